"""iamguard's benchmark suite (`make bench`, `python -m bench [--quick]`).

The suite is a list of rows (`bench.rows.ROWS`); each row is one module that measures one thing
and returns a markdown section plus the targets it checks. The engine comparison row runs one
deterministic workload through iamguard, pycasbin and cedarpy and cross-checks their decisions.
"""
