-- The store dimension, loaded from seed/stores.csv (CSVWithNames). Reloading the seed replaces
-- rows by store_id.
CREATE TABLE IF NOT EXISTS sales.stores
(
    store_id String,
    name String,
    city String,
    region String
)
ENGINE = ReplacingMergeTree()
ORDER BY store_id;
