"""Every engine adapter, in table order, by key."""

from __future__ import annotations

from bench.engines import Engine
from bench.engines.casbin_engine import CasbinEngine
from bench.engines.cedar_engine import CedarEngine
from bench.engines.iamguard_engine import OneSetEngine, PerPrincipalEngine

ENGINES: tuple[Engine, ...] = (PerPrincipalEngine(), OneSetEngine(), CasbinEngine(), CedarEngine())
ENGINE_BY_KEY: dict[str, Engine] = {engine.key: engine for engine in ENGINES}
