"""The OpenAPI document (monitor/web/openapi.py): its paths against the app's routes, its
enums from the settings, and its schemas generated from monitor/web/schemas.py in OpenAPI
3.0's dialect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import BaseModel, create_model

from monitor.web import schemas
from monitor.web.openapi import components, document
from tests.support.web import web_settings


@pytest.fixture
def doc(tmp_path: Path) -> dict[str, Any]:
    return document(web_settings(tmp_path))


async def test_openapi_lists_every_api_route(client: TestClient[Any, Any]) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    served = set()
    for resource in client.app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter")
        if path and path.startswith("/api/v1"):
            for route in resource:
                if route.method != "HEAD":
                    served.add((route.method, path))
    assert served == {d for d in documented if d[1].startswith("/api/v1")}


def _param(doc: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    params = doc["paths"][path]["get"]["parameters"]
    found: dict[str, Any] = next(p for p in params if p["name"] == name)
    return found


def test_the_phases_are_the_settings(doc: dict[str, Any], tmp_path: Path) -> None:
    for path in ("/api/v1/outages", "/api/v1/report"):
        assert _param(doc, path, "phase")["schema"]["enum"] == ["dai-hoi-tinh"]
    none = web_settings(tmp_path).model_copy(update={"phases": []})
    assert _param(document(none), "/api/v1/outages", "phase")["schema"] == {"type": "string"}
    state = _param(doc, "/api/v1/targets", "state")["schema"]["enum"]
    assert state == ["up", "down", "degraded", "suppressed", "maintenance", "unknown"]


def _schemas(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object under ``node`` (a property's name is not a keyword)."""
    if not isinstance(node, dict):
        return
    yield where, node
    for key, value in node.items():
        if key == "properties":
            for name, prop in value.items():
                yield from _schemas(prop, f"{where}.{name}")
        elif key in ("items", "additionalProperties"):
            yield from _schemas(value, f"{where}[]")
        elif key in ("allOf", "anyOf", "oneOf"):
            for i, part in enumerate(value):
                yield from _schemas(part, f"{where}/{key}{i}")


def test_the_schemas_are_openapi_30(doc: dict[str, Any]) -> None:
    found = doc["components"]["schemas"]
    for name, component in found.items():
        for where, schema in _schemas(component, name):
            assert not {"anyOf", "$defs", "title", "const", "default"} & set(schema), where
            assert schema.get("type") != "null" and not isinstance(schema.get("type"), list)
            if "$ref" in schema:
                assert set(schema) == {"$ref"}, where  # 3.0 ignores a $ref's siblings
                assert schema["$ref"].removeprefix("#/components/schemas/") in found, where
    target = found["Target"]["properties"]
    assert target["since"] == {"type": "string", "format": "date-time", "nullable": True}
    assert target["http_status"] == {"type": "integer", "nullable": True}
    assert target["duration_seconds"] == {"type": "number", "nullable": True}
    assert found["TargetList"]["properties"]["phase"] == {
        "allOf": [{"$ref": "#/components/schemas/Phase"}],
        "nullable": True,
    }
    request = found["MaintenanceRequest"]
    assert request["required"] == ["name", "match"]
    assert request["properties"]["start"] == {"type": "string", "format": "date-time"}
    assert request["properties"]["match"]["minProperties"] == 1


def test_every_model_is_its_component(doc: dict[str, Any]) -> None:
    """Each model the paths refer to (and those they refer to) is a component with its
    fields, in order, every one required, no other allowed."""
    found = doc["components"]["schemas"]
    models = {
        name: model
        for name in schemas.__all__
        if isinstance(model := getattr(schemas, name), type)
        and issubclass(model, BaseModel)
        and model is not schemas.Strict
    }
    assert set(found) == set(models)
    for name, model in models.items():
        component = found[name]
        assert list(component["properties"]) == list(model.model_fields), name
        assert component["additionalProperties"] is False, name
        required = [f for f, info in model.model_fields.items() if info.is_required()]
        assert component["required"] == required, name
        if name != "MaintenanceRequest":
            assert required == list(model.model_fields), name


def test_a_field_added_to_a_model_is_in_the_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """openapi.py names no field: a new one in a model is in the document, required."""
    grown = create_model(
        "AlertList",
        __base__=schemas.AlertList,
        __doc__="The alerts, and how many were left out.",
        left_out=(int, ...),
        note=(str | None, ...),
    )
    monkeypatch.setattr(schemas, "AlertList", grown)
    found = document(web_settings(tmp_path))["components"]["schemas"]["AlertList"]
    assert list(found["properties"]) == ["phase", "alerts", "left_out", "note"]
    assert found["required"] == ["phase", "alerts", "left_out", "note"]
    assert found["properties"]["left_out"] == {"type": "integer"}
    assert found["properties"]["note"] == {"type": "string", "nullable": True}
    assert found["description"] == "The alerts, and how many were left out."


def test_components_are_cached_but_each_document_has_its_own(doc: dict[str, Any]) -> None:
    doc["components"]["schemas"]["Target"]["properties"].clear()
    again = components([schemas.TargetList])
    assert "name" in again["Target"]["properties"]
    assert set(again) == {"Phase", "ReasonText", "Target", "TargetList"}


def test_two_models_of_one_name_are_refused() -> None:
    other = create_model("Phase", __base__=schemas.Strict, name=(str, ...))
    with pytest.raises(ValueError, match="'Phase'"):
        components([schemas.TargetList, other])
