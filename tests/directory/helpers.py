"""Policy documents and ARNs the directory tests build on."""

from __future__ import annotations

from typing import Any

import pytest

TENANT = "123456789012"


def allow(action: str = "s3:GetObject", resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource,
                                                    **extra}]}


def statements(*items: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(items)}


def deny(action: str = "s3:GetObject", resource: str = "*") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": action, "Resource": resource}]}


def trust(principal: Any = None) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": principal or {"AWS": f"arn:aws:iam::{TENANT}:root"},
        "Action": "sts:AssumeRole"}]}


def arn(kind: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{TENANT}:{kind}{path}{name}"


def refused(directory: Any, error: type[Exception], call: Any, *args: Any, **kwargs: Any) -> Any:
    """Assert `call` raises `error` and left the tenant and the store generation exactly as they were."""
    before, generation = directory.export_tenant(), directory.store.generation()
    with pytest.raises(error) as info:
        call(*args, **kwargs)
    assert directory.export_tenant() == before
    assert directory.store.generation() == generation
    return info.value
