"""Market-data sources: every network read of prices and series lives below this package."""
