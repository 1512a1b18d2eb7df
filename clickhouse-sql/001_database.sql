-- Sales aggregates for Superset and the serving API (DESIGN.md §6). All times are UTC.
CREATE DATABASE IF NOT EXISTS sales;
