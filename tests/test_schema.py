"""The committed OpenAPI schema is what the code generates (the contract frontends build on)."""

from pathlib import Path

import pytest
from django.core.management import call_command

SCHEMA = Path(__file__).resolve().parent.parent / "openapi" / "schema.yaml"


def test_the_committed_schema_matches_the_code(tmp_path):
    generated = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(generated))
    assert generated.read_text() == SCHEMA.read_text(), "run `make schema` and commit it"


def test_the_schema_is_valid_openapi_3():
    import yaml
    from openapi_spec_validator import validate

    validate(yaml.safe_load(SCHEMA.read_text()))


def test_every_operation_is_documented_for_frontend_developers():
    import yaml

    schema = yaml.safe_load(SCHEMA.read_text())
    operations = [op for item in schema["paths"].values() for op in item.values()]
    assert len(operations) >= 14
    for op in operations:
        assert op["summary"] and op["description"] and op["tags"], op["operationId"]
        assert op["operationId"][0].islower() and "_" not in op["operationId"]
        errors = [code for code in op["responses"] if code.startswith(("4", "5"))]
        assert errors, op["operationId"]
        for code in errors:
            content = op["responses"][code]["content"]
            assert "application/problem+json" in content, (op["operationId"], code)


def test_the_schema_declares_bearer_auth():
    text = SCHEMA.read_text()
    assert "bearerAuth" in text
    assert "scheme: bearer" in text


def test_swagger_and_redoc_are_served_offline(client):
    for url in ("/api/docs/", "/api/redoc/"):
        page = client.get(url).content.decode()
        assert "/static/drf_spectacular_sidecar/" in page
        assert "cdn.jsdelivr" not in page
    assert client.get("/api/schema/").status_code == 200


def test_each_event_type_is_documented_as_a_schema_of_its_own():
    import yaml

    from generations.models import EventType

    schemas = yaml.safe_load(SCHEMA.read_text())["components"]["schemas"]
    union = schemas["Event"]
    mapping = union["discriminator"]["mapping"]
    assert union["discriminator"]["propertyName"] == "type"
    assert sorted(mapping) == sorted(EventType.values)
    assert sorted(m["$ref"] for m in union["oneOf"]) == sorted(mapping.values())
    for type_, ref in mapping.items():
        member = schemas[ref.rsplit("/", 1)[1]]
        assert member["properties"]["type"]["enum"] == [type_]
        assert member["description"]
    clip_event = schemas[mapping["clip.succeeded"].rsplit("/", 1)[1]]
    assert "clip" in clip_event["required"]


@pytest.mark.parametrize("field", ["description", "styles"])
def test_a_personas_free_text_schema_refuses_nul_and_takes_blank_once(field):
    """A fresh attack seed sent styles "\\u0000": valid to the schema, 400 from the API. The schema
    now says NUL is refused, and "" still matches exactly one branch of its oneOf."""
    import jsonschema
    import yaml

    schema = yaml.safe_load(SCHEMA.read_text())
    prop = schema["components"]["schemas"]["PersonaCreateRequest"]["properties"][field]
    validator = jsonschema.Draft202012Validator(prop)
    assert not validator.is_valid("soul\u0000")
    assert validator.is_valid("")
    assert validator.is_valid("soul, neo-soul")
