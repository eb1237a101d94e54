// wagemap's plotly.js bundle: the core (scatter) and the trace types the pages draw, nothing else.
// Built by build.sh (see README.md); dcc.Graph uses window.Plotly when it is already defined.
'use strict';

var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/scattermap'),
    require('plotly.js/lib/choroplethmap'),
]);

module.exports = Plotly;
