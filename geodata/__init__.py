"""The city's geography and the store (PostGIS / GeoPackage): the base of wagemap."""

import pandas as _pd

# pandas 3 stores its default "str" dtype in pyarrow whenever pyarrow is installed ("auto"), and
# pyarrow-backed strings refuse operations the layers rely on (str + float concatenation, truth of
# NA). wagemap uses pyarrow only to parse bulk reads (geodata/store/pgread.py); its frames keep the
# Python-backed "str" they had before pyarrow was a dependency. Every wagemap package imports geodata.
_pd.set_option("mode.string_storage", "python")
