"""The benchmark: the pipeline at a year's scale, next to its load floor and a naive pandas pipeline (issue 6).

``python -m bench --scale quick|year`` (``make bench-quick``, ``make bench``). Everything it writes lives under
``state/bench/``; on PostgreSQL it uses only the database it is given (default ``bench``), in schemas of its own.
"""
