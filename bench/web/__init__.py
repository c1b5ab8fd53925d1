"""Hello-world web apps for the middleware overhead row, and the in-process clients that drive them.

Every framework serves one route, `GET /orders/{order_id}`, answering a short plain-text body,
bare or protected (iamguard's adapter for that framework, or a pycasbin middleware for Starlette).
The clients call the app directly (ASGI: the app coroutine with a minimal scope, receive and
send; WSGI: the WSGI callable with a minimal environ), so no socket, HTTP parser or test client
sits between the timer and the code being compared. One more pair, the Starlette app bare and
protected behind uvicorn on loopback (`loopback`, `loadgen`), shows what a deployed app pays.
"""
