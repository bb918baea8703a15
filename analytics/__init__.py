"""Pure analytics for the loyalty pipeline: DataFrames in, new DataFrames out, no I/O.

Modules: weeks (ISO week labels), stats (intervals and tests), satisfaction, drivers, retention,
linkage, retain, keywords, alerts, headline.
"""
