"""The city's geography and the store (PostGIS / GeoPackage): the base of wagemap."""
