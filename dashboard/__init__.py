"""The Dash dashboard, the command line, login and roles: the edge of wagemap."""
