"""iamguard's benchmark suite (`make bench`, `python -m bench [--quick] [--rows NAME,...]`).

The suite is a list of rows (`bench.rows.ROWS`); each row is one module that measures one thing
and returns a markdown section plus the targets it checks:
- `engines`: one deterministic workload through iamguard, pycasbin and cedarpy, decisions
  cross-checked;
- `directory`: resolve-and-evaluate through the identity directory, warm and cold, on the SQLite
  and memory stores;
- `middleware`: requests per second of a hello-world route, bare and protected, for Starlette
  (also behind pycasbin), Flask and Django (apps and in-process clients in `bench.web`).
A row that finds it would time an error path raises `RowError`, which stops the run.
"""
