"""MkDocs hook: the spec reference, generated from the pydantic models at build time.

A line `::spec-reference:: MODEL [CONFIG-PATH]` in a page becomes a table per model: the
model's docstring, then each field's key, type, default and `Field(description=...)`, with
the constraints pydantic enforces (from the model's JSON schema). Nested models follow on
the same page, unless another page renders them as its own root: then the type links there.
Types written with the spec's shared aliases (`Dns1123Label`, `Quantity`, ...) link to the
generated "Field types" table (`::spec-types::`), whose text is each alias's docstring.

A line `::include:: PATH` is replaced by that file (relative to the docs folder) without its
first-level title. Nothing here can drift from the code: it is read when the site is built.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import posixpath
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from pydantic import BaseModel
from pydantic.fields import FieldInfo

SPEC_PACKAGE = "mlops_iac.spec"
TYPES_PAGE = "spec.md"
CONFIG_PREFIX = "mlops:"
DIRECTIVE = re.compile(r"^::spec-reference::[ \t]+(\S+)(?:[ \t]+(\S+))?[ \t]*$", re.MULTILINE)
TYPES_DIRECTIVE = re.compile(r"^::spec-types::[ \t]*$", re.MULTILINE)
INCLUDE = re.compile(r"^::include::[ \t]+(\S+)[ \t]*$", re.MULTILINE)

_homes: dict[type[BaseModel], str] = {}
"""Each root model -> the page (src_uri) whose directive renders it."""
rendered: dict[str, set[str]] = {}
"""Page -> the models it rendered (read by the tests through the built HTML's anchors)."""


def anchor(model: type[BaseModel]) -> str:
    return f"spec-{model.__name__.lower()}"


def type_anchor(alias: str) -> str:
    return f"type-{alias.lower()}"


def _model(path: str) -> type[BaseModel]:
    module_name, _, name = path.rpartition(".")
    try:
        model = getattr(importlib.import_module(module_name or SPEC_PACKAGE), name)
    except (ImportError, AttributeError) as error:
        raise PluginError(f"::spec-reference:: {path}: {error}") from error
    if not (inspect.isclass(model) and issubclass(model, BaseModel)):
        raise PluginError(f"::spec-reference:: {path} is not a pydantic model")
    return model


@dataclass(frozen=True)
class Alias:
    name: str
    module: str
    value: Any
    doc: str


def _spec_modules() -> list[types.ModuleType]:
    package = importlib.import_module(SPEC_PACKAGE)
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__))
    return [importlib.import_module(f"{SPEC_PACKAGE}.{name}") for name in names]


def _is_model(value: Any) -> bool:
    return inspect.isclass(value) and issubclass(value, BaseModel)


def _mentions_model(annotation: Any) -> bool:
    return _is_model(annotation) or any(_mentions_model(a) for a in typing.get_args(annotation))


def aliases() -> list[Alias]:
    """Module-level `Name = Annotated[...]` aliases of scalar types in the spec package, with
    the docstring written under each (read from the source: Python keeps none at run time)."""
    found = []
    for module in _spec_modules():
        tree = ast.parse(Path(module.__file__ or "").read_text())
        body = tree.body
        for statement, following in zip(body, [*body[1:], None], strict=True):
            if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1):
                continue
            target = statement.targets[0]
            if not isinstance(target, ast.Name) or target.id.startswith("_"):
                continue
            value = getattr(module, target.id, None)
            if typing.get_origin(value) is not typing.Annotated or _mentions_model(value):
                continue
            doc = ""
            if (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                doc = inspect.cleandoc(following.value.value)
            found.append(Alias(target.id, module.__name__, value, doc))
    return found


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _hints(model: type[BaseModel]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(model, include_extras=True)
    except Exception:  # an unresolvable annotation: fall back to pydantic's view
        return {name: field.annotation for name, field in model.model_fields.items()}


class Renderer:
    def __init__(self, page: str) -> None:
        self.page = page
        self.alias_names = {a.value: a.name for a in aliases()}
        self.queue: list[type[BaseModel]] = []
        self.done: set[type[BaseModel]] = set()
        self.paths: dict[type[BaseModel], list[str]] = {}

    def link(self, model: type[BaseModel]) -> str:
        home = _homes.get(model)
        if home is None or home == self.page:
            if home is None and model not in self.done and model not in self.queue:
                self.queue.append(model)
            return f"[{model.__name__}](#{anchor(model)})"
        target = posixpath.relpath(home, posixpath.dirname(self.page) or ".")
        return f"[{model.__name__}]({target}#{anchor(model)})"

    def type_text(self, annotation: Any, path: str, drop_none: bool) -> str:
        alias = self.alias_names.get(annotation) if _hashable(annotation) else None
        if alias is not None:
            target = posixpath.relpath(TYPES_PAGE, posixpath.dirname(self.page) or ".")
            target = "" if self.page == TYPES_PAGE else target
            return f"[{alias}]({target}#{type_anchor(alias)})"
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is typing.Annotated:
            return self.type_text(args[0], path, drop_none)
        if origin in (typing.Union, types.UnionType):
            members = [a for a in args if not (drop_none and a is type(None))]
            return " \\| ".join(self.type_text(a, path, drop_none) for a in members)
        if origin is typing.Literal:
            return " \\| ".join(f"`{json.dumps(a)}`" for a in args)
        if origin is list:
            return f"list[{self.type_text(args[0], path + '[]', drop_none)}]"
        if origin is dict:
            inner = ", ".join(self.type_text(a, path + ".*", drop_none) for a in args)
            return f"dict[{inner}]"
        if _is_model(annotation):
            self.paths.setdefault(annotation, [])
            if path not in self.paths[annotation]:
                self.paths[annotation].append(path)
            return self.link(annotation)
        if annotation is type(None):
            return "null"
        if annotation is typing.Any:
            return "any"
        return getattr(annotation, "__name__", str(annotation))

    def render(self, root: type[BaseModel], config_path: str | None) -> str:
        self.queue = [root]
        if config_path:
            self.paths[root] = [config_path]
        out: list[str] = []
        while self.queue:
            model = self.queue.pop(0)
            if model in self.done:
                continue
            self.done.add(model)
            out.append(self.model_section(model))
        rendered.setdefault(self.page, set()).update(m.__name__ for m in self.done)
        return "\n\n".join(out)

    def model_section(self, model: type[BaseModel]) -> str:
        schema = model.model_json_schema()
        properties = schema.get("properties", {})
        hints = _hints(model)
        lines = [f"### {model.__name__} {{#{anchor(model)}}}", ""]
        paths = self.paths.get(model, [])
        if paths == [f"{CONFIG_PREFIX}"]:
            lines += [f"Config: one key `{CONFIG_PREFIX}<key>` per field.", ""]
        elif paths:
            lines += ["Config: " + ", ".join(f"`{p}`" for p in paths), ""]
        doc = inspect.getdoc(model)
        if doc and doc != inspect.getdoc(BaseModel):
            lines += [doc, ""]
        lines += ["| key | type | default | description |", "| --- | --- | --- | --- |"]
        for name, field in model.model_fields.items():
            key = field.alias or name
            base = paths[0] if paths else ""
            child_path = f"{base}{name}" if base.endswith(":") else f"{base}.{name}"
            default = _default(field)
            drop_none = default == "unset"
            type_cell = self.type_text(hints.get(name, field.annotation), child_path, drop_none)
            described = _cell(field.description or "")
            rules = _constraints(properties.get(key, {}), self._uses_alias(hints.get(name)))
            if rules:
                described = f"{described} *({_cell(rules)})*" if described else f"*({rules})*"
            lines.append(f"| `{key}` | {type_cell} | {default} | {described} |")
        return "\n".join(lines)

    def _uses_alias(self, annotation: Any) -> bool:
        if _hashable(annotation) and annotation in self.alias_names:
            return True
        return any(self._uses_alias(a) for a in typing.get_args(annotation))


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.get_default(call_default_factory=True, validated_data={})
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        changed = value.model_dump(mode="json", exclude_defaults=True)
        return "`{}`" if not changed else f"`{_cell(json.dumps(changed))}`"
    if isinstance(value, str):
        return f'`"{_cell(value)}"`'
    return f"`{_cell(json.dumps(value, default=str))}`"


_RULES = (
    ("minimum", "≥ {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "≤ {}"),
    ("exclusiveMaximum", "< {}"),
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
)


def _constraints(prop: dict[str, Any], alias_typed: bool) -> str:
    """The constraints of one JSON schema property (its non-null branch, its items)."""
    rules: list[str] = []
    for branch in [prop, *prop.get("anyOf", [])]:
        if branch.get("type") == "null":
            continue
        rules += [text.format(branch[key]) for key, text in _RULES if key in branch]
        if "pattern" in branch and not alias_typed:
            rules.append(f"pattern `{branch['pattern']}`")
        items = branch.get("items")
        if isinstance(items, dict):
            inner = _constraints(items, alias_typed)
            if inner:
                rules.append(f"each: {inner}")
    return ", ".join(dict.fromkeys(rules))


def types_table(page: str) -> str:
    lines = ["| type | what it accepts | defined in |", "| --- | --- | --- |"]
    for alias in aliases():
        module = alias.module.removeprefix("mlops_iac.")
        lines.append(
            f'| <span id="{type_anchor(alias.name)}"></span>`{alias.name}` | '
            f"{_cell(alias.doc)} | `{module}` |"
        )
    return "\n".join(lines)


def on_files(files: Any, config: Any) -> Any:
    """Find every page's root models first, so other pages can link to them."""
    _homes.clear()
    rendered.clear()
    for file in files.documentation_pages():
        source = Path(file.abs_src_path).read_text(encoding="utf-8")
        for match in DIRECTIVE.finditer(source):
            model = _model(match[1])
            if model in _homes and _homes[model] != file.src_uri:
                raise PluginError(
                    f"{model.__name__} is a spec-reference root on both "
                    f"{_homes[model]} and {file.src_uri}"
                )
            _homes[model] = file.src_uri
    return files


LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")
LINK_ALIASES = {"architecture.md": "design.md"}
"""Files kept out of the site whose page is another one (architecture.md is included there)."""


def _section(text: str, slug: str, where: str) -> str:
    """The body under the heading whose slug is `slug`, up to the next heading as high."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        heading = re.match(r"^(#+) +(.*?)\s*$", line)
        if heading and _slug(heading[2]) == slug:
            level = len(heading[1])
            end = next(
                (
                    j
                    for j in range(index + 1, len(lines))
                    if (m := re.match(r"^(#+) ", lines[j])) and len(m[1]) <= level
                ),
                len(lines),
            )
            return "".join(lines[index + 1 : end])
    raise PluginError(f"{where}: no heading #{slug}")


def _slug(title: str) -> str:
    return re.sub(r"[^\w]+", "-", title.lower()).strip("-")


def _relink(text: str, included: Path, page_dir: Path, docs_dir: Path) -> str:
    """Links in an included file, made relative to the including page."""

    def fix(match: re.Match[str]) -> str:
        target = match[2]
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            return match[0]
        path, _, fragment = target.partition("#")
        resolved = (included.parent / path).resolve()
        if not resolved.is_relative_to(docs_dir.resolve()):
            return match[0]
        relative = resolved.relative_to(docs_dir.resolve()).as_posix()
        relative = LINK_ALIASES.get(relative, relative)
        new = posixpath.relpath(relative, page_dir.as_posix() or ".")
        return f"{match[1]}{new}{'#' + fragment if fragment else ''}{match[3]}"

    return LINK.sub(fix, text)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    src = page.file.src_uri
    docs_dir = Path(config["docs_dir"])
    page_dir = Path(posixpath.dirname(src))

    def include(match: re.Match[str]) -> str:
        name, _, slug = match[1].partition("#")
        path = (docs_dir / page_dir / name).resolve()
        if not path.is_file():
            raise PluginError(f"{src}: ::include:: {match[1]}: no such file")
        text = path.read_text(encoding="utf-8")
        if slug:
            text = _section(text, slug, f"{src}: ::include:: {match[1]}")
        else:
            text = re.sub(r"\A\s*# [^\n]*\n", "", text, count=1)
        return _relink(text, path, page_dir, docs_dir)

    markdown = INCLUDE.sub(include, markdown)
    renderer = Renderer(src)
    markdown = DIRECTIVE.sub(lambda m: renderer.render(_model(m[1]), m[2]), markdown)
    return TYPES_DIRECTIVE.sub(lambda m: types_table(src), markdown)
