"""RFC-correct answers from the ASGI adapter and the guard: `Allow` on every 405, a challenge on
every 401, refused body credentials at the token endpoint, one screening per request, and the
route listing's flag for a route-map rule shared by several hosts."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Host, Mount, Route, Router

from iamguard.asgi import Iam, IamMiddleware, auth_routes
from iamguard.clock import FrozenClock
from iamguard.credentials import AuthenticationFailed, InvalidClientTokenId, PasswordExpired
from iamguard.credentials.errors import InvalidToken
from iamguard.credentials.facade import PasswordCredentials
from iamguard.web import Guard, UnmappedRoutesError, WebRequest, public, rule
from iamguard.web import responses as shapes
from tests.web.stubs import TENANT, counting_screens, standard_authority

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ORDER = "arn:app:orders::{tenant}:order/{order_id}"
READER = {"authorization": "Bearer reader"}


async def _ok(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def _guard(**options: Any) -> Guard:
    options.setdefault("routes", [rule("orders:GetOrder", ORDER, methods="GET", path="/orders/{order_id}"),
                                  rule("orders:DeleteOrder", ORDER, methods="DELETE", path="/orders/{order_id}"),
                                  rule("orders:UpdateOrder", ORDER, methods="PATCH", path="/drafts/{order_id}"),
                                  rule("orders:GetOrder", ORDER, methods="GET", path="/drafts/{order_id}")])
    return Guard(standard_authority(), tenant=TENANT, clock=FrozenClock(), **options)


class StubIssuer:
    """A TokenIssuer whose every answer is a refusal, as the credentials layer words them."""

    clock = FrozenClock()

    def get_session_token(self, credentials: Any, **options: Any) -> Any:
        if isinstance(credentials, PasswordCredentials):
            if credentials.user_name == "expired":
                raise PasswordExpired("the password must be changed before signing in")
            raise AuthenticationFailed("the user name or password is incorrect")
        raise InvalidClientTokenId("the access key is not valid")

    def authenticate(self, token: object) -> Any:
        if token == "good":
            return object()
        raise InvalidToken("the token is not valid")

    def assume_role(self, *args: Any, **options: Any) -> Any:
        raise AuthenticationFailed("refused")  # a 401 that is no token problem

    def step_up(self, *args: Any, **options: Any) -> Any:
        raise AuthenticationFailed("refused")


def _app(guard: Guard) -> Starlette:
    routes = [
        Route("/orders/{order_id}", _ok, methods=["GET"]),
        Route("/orders/{order_id}", _ok, methods=["DELETE"]),
        Route("/drafts/{order_id}", _ok, methods=["GET", "PATCH"]),
        Mount("/auth", routes=auth_routes(StubIssuer())),
    ]
    return Starlette(routes=routes, middleware=[Iam(guard).middleware()])


# ---- 405 carries Allow ------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "allow"), [
    ("PUT", "/orders/1", "DELETE, GET, HEAD"),  # two routes share the path: their methods together
    ("TRACE", "/orders/1", "DELETE, GET, HEAD"),  # refused by the guard's screening, same list
    ("GET", "/auth/token", "POST"),
    ("OPTIONS", "/auth/step-up", "POST"),
    ("TRACE", "/auth/assume-role", "POST"),
    ("TRACE", "/nowhere", ""),  # no route names this resource: it allows no method
])
def test_every_405_from_the_asgi_middleware_lists_the_allowed_methods(method: str, path: str, allow: str) -> None:
    with TestClient(_app(_guard())) as client:
        response = client.request(method, path, headers=READER)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json() == {"error": "MethodNotAllowed"}


def test_allow_lists_only_the_methods_the_guard_accepts() -> None:
    guard = _guard(methods=frozenset({"GET", "HEAD", "DELETE", "OPTIONS"}))  # PATCH turned off
    with TestClient(_app(guard)) as client:
        refused = client.patch("/drafts/1", headers=READER)
        allowed = client.get("/drafts/1", headers=READER)
    assert (refused.status_code, refused.headers["allow"]) == (405, "GET, HEAD")
    assert allowed.status_code == 200


def test_fastapi_405_lists_the_route_methods() -> None:
    guard = _guard(routes=[rule("orders:GetOrder", ORDER, methods="GET", path="/orders/{order_id}")])
    api = FastAPI()

    @api.get("/orders/{order_id}")
    async def read(order_id: str) -> dict[str, str]:
        return {"order_id": order_id}

    api.add_middleware(IamMiddleware, iam=Iam(guard))
    with TestClient(api) as client:
        response = client.put("/orders/1", headers=READER)
        assert client.get("/orders/1", headers=READER).json() == {"order_id": "1"}
    assert (response.status_code, response.headers["allow"]) == (405, "GET")


def test_method_not_allowed_without_a_known_method_list_omits_the_header() -> None:
    assert "allow" not in dict(shapes.method_not_allowed(None).headers)
    assert dict(shapes.method_not_allowed("").headers)["allow"] == ""
    assert dict(shapes.method_not_allowed("GET, HEAD").headers)["allow"] == "GET, HEAD"


def test_an_opaque_mounted_app_has_no_method_list() -> None:
    """A mounted app decides its own methods: iamguard cannot list them, so it sends none."""
    guard = _guard()
    refused = guard.check_sync(WebRequest(method="TRACE", path="/static/a.css", route="/static/{path}"))
    assert refused.status == 405
    assert refused.response is not None and "allow" not in dict(refused.response.headers)


# ---- 401 carries a challenge; refused body credentials are 403 -------------------------------

TOKEN_ENDPOINT_CASES = [
    ("wrong password", "/auth/token", {"user_name": "reader", "password": "nope"}, {}, 403, "AuthenticationFailed"),
    ("unknown user", "/auth/token", {"user_name": "nobody", "password": "nope"}, {}, 403, "AuthenticationFailed"),
    ("expired password", "/auth/token", {"user_name": "expired", "password": "old"}, {}, 403, "PasswordExpired"),
    ("wrong access key", "/auth/token", {"access_key_id": "AKIA0", "secret_access_key": "x"}, {}, 403,
     "InvalidClientTokenId"),
    ("step-up without a token", "/auth/step-up", {"mfa_code": "123456"}, {}, 401, "Unauthorized"),
    ("step-up with a forged token", "/auth/step-up", {"mfa_code": "123456"}, {"authorization": "Bearer forged"},
     401, "invalid_token"),
    ("assume-role refused for another reason", "/auth/assume-role", {"role_arn": "arn:aws:iam::1:role/r",
                                                                     "session_name": "s"},
     {"authorization": "Bearer good"}, 401, "AuthenticationFailed"),
]


@pytest.mark.parametrize(("name", "path", "body", "headers", "status", "error"), TOKEN_ENDPOINT_CASES,
                         ids=[case[0] for case in TOKEN_ENDPOINT_CASES])
def test_auth_endpoint_refusals(name: str, path: str, body: dict[str, str], headers: dict[str, str], status: int,
                                error: str) -> None:
    with TestClient(_app(_guard())) as client:
        response = client.post(path, json=body, headers=headers)
    assert (response.status_code, response.json()["error"]) == (status, error)
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    else:  # credentials from the body: no HTTP authentication scheme could remedy a refusal
        assert "www-authenticate" not in response.headers


def test_unknown_user_and_wrong_password_are_indistinguishable() -> None:
    with TestClient(_app(_guard())) as client:
        wrong = client.post("/auth/token", json={"user_name": "reader", "password": "nope"})
        unknown = client.post("/auth/token", json={"user_name": "nobody", "password": "nope"})
    assert (wrong.status_code, wrong.content, sorted(wrong.headers.items())) == \
        (unknown.status_code, unknown.content, sorted(unknown.headers.items()))


def test_every_401_response_has_a_challenge() -> None:
    assert dict(shapes.json_response(401, {"error": "x"}).headers)["www-authenticate"] == "Bearer"
    given = shapes.json_response(401, {"error": "x"}, (("www-authenticate", 'Bearer realm="r"'),))
    assert [value for name, value in given.headers if name == "www-authenticate"] == ['Bearer realm="r"']
    assert "www-authenticate" not in dict(shapes.json_response(403, {"error": "x"}).headers)


# ---- one screening per request -----------------------------------------------------------------


def _order(path: str = "/orders/7", **changes: Any) -> WebRequest:
    request = WebRequest(method="GET", path=path, raw_path=path.encode(), route="/orders/{order_id}",
                         path_params={"order_id": path.rsplit("/", 1)[-1]},
                         headers=(("authorization", "Bearer reader"),))
    return request.replaced(**changes) if changes else request


def test_a_screened_request_is_not_screened_again() -> None:
    guard = _guard()
    seen = counting_screens(guard)
    request = _order()
    assert guard.screen(request) is None
    completed = request.replaced(path="/orders/7", route="/orders/{order_id}", allow="GET")  # same values
    assert guard.check_sync(completed).allowed
    assert seen == ["/orders/7"]
    assert completed == _order().replaced(allow="GET")  # the mark is no field: equality ignores it


@pytest.mark.parametrize("changes", [
    {"path": "/orders/../admin"},
    {"raw_path": b"/orders/7%2F..%2Fadmin"},
    {"method": "TRACE"},
    {"query_string": b"_method=DELETE"},
    {"headers": (("authorization", "Bearer reader"), ("x-http-method-override", "DELETE"))},
])
def test_changing_a_screened_field_screens_again(changes: dict[str, Any]) -> None:
    guard = _guard()
    request = _order()
    assert guard.screen(request) is None
    verdict = guard.check_sync(request.replaced(**changes))
    assert not verdict.allowed and verdict.status in (400, 405)


def test_another_guards_screening_does_not_count() -> None:
    lenient, strict = _guard(), _guard(methods=frozenset({"POST"}))
    request = _order()
    assert lenient.screen(request) is None
    assert strict.check_sync(request).status == 405


def test_the_asgi_middleware_screens_once_per_request() -> None:
    guard = _guard()
    seen = counting_screens(guard)
    with TestClient(_app(guard)) as client:
        assert client.get("/orders/3", headers=READER).status_code == 200
        assert client.get("/missing", headers=READER).status_code == 404  # screened, then left to the router
    assert seen == ["/orders/3", "/missing"]


# ---- route-map rules and Starlette hosts -------------------------------------------------------

def _host(name: str, *routes: Route) -> Host:
    return Host(name, app=Router(routes=list(routes)))


def _hosted(guard: Guard, *, bare: bool = False) -> Starlette:
    routes: list[Any] = [_host("a.example", Route("/status", _ok, methods=["GET"])),
                         _host("b.example", Route("/status", _ok, methods=["GET"]))]
    if bare:
        routes = [routes[0], Route("/status", _ok, methods=["GET"])]
    return Starlette(routes=routes)


@pytest.mark.parametrize("bare", [False, True], ids=["two hosts", "a host and no host"])
def test_a_route_map_rule_shared_by_several_hosts_is_flagged(bare: bool) -> None:
    iam = Iam(_guard(routes=[public(methods="GET", path="/status")]))
    app = _hosted(iam.guard, bare=bare)
    reports = [report for report in iam.report(app) if report.method == "GET"]
    assert len(reports) == 2
    assert all(report.problem is not None and report.problem.startswith("ambiguous") for report in reports)
    assert "a.example/status" in str(reports[0])
    with pytest.raises(UnmappedRoutesError, match="several hosts"):
        iam.check_app(app)


def test_strict_startup_refuses_an_ambiguous_host_mapping() -> None:
    iam = Iam(_guard(routes=[public(methods="GET", path="/status")]))
    app = _hosted(iam.guard)
    app.add_middleware(IamMiddleware, iam=iam, strict=True)
    with pytest.raises(RuntimeError, match="ambiguous"), TestClient(app):
        pass


def test_rules_declared_on_each_hosts_endpoint_are_not_ambiguous() -> None:
    iam = Iam(_guard(routes=[]))

    @iam.public
    async def a_status(request: Request) -> JSONResponse:
        return JSONResponse({"host": "a"})

    @iam.protect("orders:GetOrder", "arn:app:orders::{tenant}:status")
    async def b_status(request: Request) -> JSONResponse:
        return JSONResponse({"host": "b"})

    app = Starlette(routes=[_host("a.example", Route("/status", a_status, methods=["GET"])),
                            _host("b.example", Route("/status", b_status, methods=["GET"]))],
                    middleware=[iam.middleware(strict=True)])
    assert all(report.ok for report in iam.check_app(app))
    with TestClient(app) as client:
        assert client.get("/status", headers={"host": "a.example"}).json() == {"host": "a"}
        assert client.get("/status", headers={"host": "b.example"}).status_code == 401


def test_a_decorator_deciding_without_the_middleware_lists_the_route_methods() -> None:
    """The router dispatched TRACE to a route that declares it; the guard refuses the method
    (not among the ones it accepts) and still names the route's methods."""
    iam = Iam(_guard(routes=[]))

    @iam.protect("orders:GetOrder", ORDER)
    async def traced(request: Request) -> JSONResponse:
        return JSONResponse({"ran": True})

    app = Starlette(routes=[Route("/orders/{order_id}", traced, methods=["GET", "TRACE"])])
    with TestClient(app) as client:
        response = client.request("TRACE", "/orders/1", headers=READER)
    assert (response.status_code, response.headers["allow"]) == (405, "GET, HEAD")
