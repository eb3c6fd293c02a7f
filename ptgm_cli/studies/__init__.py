"""Studies of many runs: their results, statistics with rliable, and the report."""
