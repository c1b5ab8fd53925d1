"""django_iamguard: iamguard for Django.

    INSTALLED_APPS = [..., "django_iamguard"]
    MIDDLEWARE = ["django.middleware.security.SecurityMiddleware",
                  "django_iamguard.middleware.IamGuardMiddleware", ...]
    IAMGUARD = {"GUARD": "shop.iam.build_guard", "STRICT": True}

    from django_iamguard.decorators import iam_required, iam_public
    from django_iamguard.mixins import IamRequiredMixin

    @iam_required("orders:GetOrder", "arn:app:orders::{tenant}:order/{order_id}")
    def get_order(request, order_id):
        return JsonResponse({"id": order_id, "principal": request.iam.principal})

The middleware decides for the route Django's resolver matched (`request.resolver_match`), sync
or async; the view reads the decision from `request.iam`. Route templates are written `{name}`
(`orders/<int:order_id>` is `/orders/{order_id}`). Unmapped routes are denied, reported by
`manage.py check` (an error with STRICT) and listed by `manage.py iam_routes`.

The submodules import Django; import them from where Django is configured (this package
itself imports nothing, so it is safe in INSTALLED_APPS).
"""
