"""Templates of a request that carries untrusted values (alert labels, probe details): jinja2 in
an immutable sandbox, each expression escaped as the part of the request it lands in.

    body, JSON (application/json, */*+json)   nothing escaped by itself: values go through the
                                              ``tojson`` filter (``{{ text | tojson }}``), and
                                              the rendered body must parse as JSON
    body, XML or HTML                         autoescape (& < > " ')
    body, form (x-www-form-urlencoded)        every ``{{ }}`` percent-encoded (quote_plus)
    body, anything else (text/plain)          as written
    url                                       every ``{{ }}`` percent-encoded (quote, safe="")
    header                                    as written; a control character in the result
                                              (CR, LF, ...) is refused: no header injection

Unknown names are errors (StrictUndefined), so a misspelt field fails when the settings are
checked, not at 3 a.m. Every failure is a ``TemplateFailed`` (a ValueError) whose message never
quotes a rendered value: those may hold secrets.

Loaded only by what renders such templates (the ``http`` receiver, and the settings when one is
configured), so jinja2 stays out of every other settings load.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote, quote_plus

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["MAX_OUTPUT", "Part", "TemplateFailed", "compile_template", "is_json", "render"]

Part = Literal["body", "url", "header"]
MAX_OUTPUT = 256 * 1024  # characters of one rendered part
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_JSON = re.compile(r"^application/(?:[\w.+-]+\+)?json\s*(?:;.*)?$", re.IGNORECASE)
_MARKUP = re.compile(
    r"^(?:text/html|text/xml|application/xml|application/[\w.+-]+\+xml)\s*(?:;.*)?$",
    re.IGNORECASE,
)
_FORM = re.compile(r"^application/x-www-form-urlencoded\s*(?:;.*)?$", re.IGNORECASE)


class TemplateFailed(ValueError):
    """A template that does not compile or render; the message names no rendered value."""


def is_json(content_type: str) -> bool:
    return bool(_JSON.match(content_type.strip()))


def _tojson(value: Any) -> str:
    # Vietnamese stays readable; a quote, a backslash or a line break is escaped as JSON says.
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined: raises UndefinedError, naming what is undefined
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json would take NaN and Infinity


def _encoder(encode: Any) -> Any:
    def finalize(value: Any) -> str:
        return str(encode("" if value is None else str(value), safe=""))

    return finalize


def _environment(part: Part, content_type: str) -> ImmutableSandboxedEnvironment:
    options: dict[str, Any] = {}
    if part == "url":
        options["finalize"] = _encoder(quote)
    elif part == "body" and _FORM.match(content_type.strip()):
        options["finalize"] = _encoder(quote_plus)
    env = ImmutableSandboxedEnvironment(
        autoescape=part == "body" and bool(_MARKUP.match(content_type.strip())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        **options,
    )
    env.filters["tojson"] = _tojson
    return env


def compile_template(source: str, part: Part, content_type: str) -> jinja2.Template:
    try:
        return _environment(part, content_type).from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateFailed(f"template syntax, line {exc.lineno}: {exc.message}") from None
    except Exception as exc:  # RecursionError on deep nesting, say: never a traceback
        raise TemplateFailed(f"template: {type(exc).__name__}") from None


def render(
    template: jinja2.Template, part: Part, content_type: str, context: Mapping[str, Any]
) -> str:
    try:
        text = template.render(context)
    except SecurityError as exc:
        raise TemplateFailed(f"the sandbox refused: {exc}") from None
    except jinja2.TemplateError as exc:
        raise TemplateFailed(f"template: {exc.message or type(exc).__name__}") from None
    except Exception as exc:  # whatever the template did, it fails the same way again
        raise TemplateFailed(f"template: {type(exc).__name__}") from None
    if len(text) > MAX_OUTPUT:
        raise TemplateFailed(f"renders {len(text)} characters, more than {MAX_OUTPUT}")
    if part == "header" and _CONTROL.search(text):
        raise TemplateFailed("renders a control character (a line break?) into a header")
    if part == "body" and is_json(content_type):
        try:
            json.loads(text, parse_constant=_no_constant)
        except ValueError as exc:
            where = (
                f"line {exc.lineno}, column {exc.colno}"
                if isinstance(exc, json.JSONDecodeError)
                else str(exc)  # only NaN or Infinity: no rendered value
            )
            raise TemplateFailed(
                f"does not render valid JSON ({where}): put values through `| tojson`"
            ) from None
    return text
