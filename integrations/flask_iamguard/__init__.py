"""flask_iamguard: iamguard for Flask.

    from flask import Flask, g
    from flask_iamguard import IamGuard
    from iamguard.web import Guard, rule, public

    app = Flask(__name__)
    iam = IamGuard(app, guard=Guard(credentials, tenant="123456789012",
                                    routes=[rule("orders:ListOrders", "arn:app:orders::{tenant}:orders",
                                                 methods="GET", path="/orders"),
                                            public(methods="GET", path="/health")]))

    @app.get("/orders/<order_id>")
    @iam.require("orders:GetOrder", "arn:app:orders::{tenant}:order/{order_id}")
    def get_order(order_id):
        return {"id": order_id, "principal": g.iam.principal}

Route templates are written `{name}` (Werkzeug's `<int:order_id>` is `{order_id}`). A route
with neither a route-map entry nor a decorator is denied; `iam.report(app)` lists every route
with its mapping, `iam.check_app(app)` raises when one is unmapped, `flask iam-routes` prints
the listing.
"""

from flask_iamguard.endpoints import auth_blueprint
from flask_iamguard.extension import EXTENSION_KEY, IamGuard
from flask_iamguard.routing import route_entries, route_template

__all__ = ["EXTENSION_KEY", "IamGuard", "auth_blueprint", "route_entries", "route_template"]
