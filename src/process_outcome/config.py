"""Validation of the workflow config and a typed view of its measures."""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jsonschema
import yaml

from process_outcome.errors import InputError

__all__ = [
    "KINDS",
    "RESERVED_KEYS",
    "TABLE_ROLES",
    "Measure",
    "load_config",
    "measures",
    "measures_of",
    "validate_config",
    "variant_config",
]

MeasureKind = Literal["outcome", "process", "moderator", "covariate"]


@dataclass(frozen=True)
class Measure:
    """One configured measure.

    Attributes
    ----------
    key : str
        The measure's config key; used as its name in every derived variable and table.
    column : str or None
        The column holding it in the user's table (None for a measure scored from
        items).
    label : str
        Human-readable label for tables and the report.
    kind : {"outcome", "process", "moderator", "covariate"}
        Its role in the models.
    table : {"sessions", "therapists", "patients"}
        The input table the column is looked up in.
    range : tuple of float or None
        Admissible (min, max); values outside become missing (or stop the run).
    higher_is : {"worse", "better"} or None
        For outcomes: whether a higher score means a worse or better state.
    type : str or None
        Moderators: ``continuous`` or ``binary``; covariates: ``continuous`` or
        ``categorical``.
    units : str
        Units, for the data dictionary.
    items : tuple of str
        Item columns when the measure is scored from items (then ``column`` is None).
    reverse_items : tuple of str
        Reverse-keyed items (scored as item minimum + maximum − response).
    item_range : tuple of float or None
        The items' response scale (min, max); responses outside become missing.
    scoring : {"mean", "sum"}
        How items are combined.
    min_answered : float
        Minimum share of answered items for a score; fewer gives a missing score.
    reference : str, float or None
        Reference level of a categorical covariate.
    missing_codes : tuple of float
        Values that mean "missing" (such as -99): the measure's own ``missing_codes``
        and ``data.missing_codes``.
    """

    key: str
    column: str | None
    label: str
    kind: MeasureKind
    table: Literal["sessions", "therapists", "patients"]
    range: tuple[float, float] | None = None
    higher_is: Literal["worse", "better"] | None = None
    type: str | None = None
    units: str = ""
    items: tuple[str, ...] = ()
    reverse_items: tuple[str, ...] = ()
    item_range: tuple[float, float] | None = None
    scoring: str = "mean"
    min_answered: float = 0.75
    reference: str | float | None = None
    missing_codes: tuple[float, ...] = ()

    @property
    def source_columns(self) -> tuple[str, ...]:
        """The columns of the input table the measure is read from."""
        return self.items if self.items else (str(self.column),)

    @property
    def config_key(self) -> str:
        """The measure's place in the config, for messages (``measures.processes.x``)."""
        section = {
            "outcome": "outcomes",
            "process": "processes",
            "moderator": "moderators",
            "covariate": "covariates",
        }
        return f"measures.{section[self.kind]}.{self.key}"


def _extend_with_default(validator_class: type) -> type:
    # jsonschema does not fill defaults itself; this is the documented recipe.
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # type: ignore[no-untyped-def]
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    default = subschema["default"]
                    instance[name] = dict(default) if isinstance(default, dict) else default
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _location(path: Any) -> str:
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else "(top level)"


def _schema_at(schema: Mapping[str, Any], path: list[Any]) -> Mapping[str, Any]:
    node: Mapping[str, Any] = schema
    for part in path:
        props = node.get("properties", {})
        if isinstance(part, str) and part in props:
            node = props[part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        elif isinstance(node.get("items"), dict):
            node = node["items"]
        else:
            return {}
    return node


def _describe_error(error: jsonschema.ValidationError, schema: Mapping[str, Any]) -> str:
    where = _location(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(_schema_at(schema, list(error.absolute_path)).get("properties", {}))
        unknown = [k for k in error.instance if k not in allowed]
        lines = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.5)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            lines.append(
                f"unknown config key '{key}' under {where}.{hint} "
                f"Valid keys there: {', '.join(allowed)}."
            )
        return " ".join(lines)
    if error.validator == "enum":
        close = difflib.get_close_matches(
            str(error.instance), [str(v) for v in error.validator_value]
        )
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return (
            f"config key {where} is {error.instance!r}; allowed values are "
            f"{', '.join(map(str, error.validator_value))}.{hint}"
        )
    if error.validator == "oneOf":
        return (
            f"config key {where} must give either 'column' (one column holds the score) or "
            "'items' (the score is computed from item columns), not both and not neither."
        )
    if error.validator == "required":
        return f"config section {where} is missing a required key: {error.message}."
    return f"config key {where}: {error.message}."


def validate_config(config: Mapping[str, Any], schema_path: str | Path) -> dict[str, Any]:
    """Validate a config against the JSON schema and fill in the defaults.

    Parameters
    ----------
    config : mapping
        The config as loaded from YAML (not modified).
    schema_path : str or Path
        The JSON schema (YAML or JSON).

    Returns
    -------
    dict
        A copy of the config with every default filled in.

    Raises
    ------
    InputError
        For every schema violation, naming the key, and for a misspelled key the nearest
        valid one; also when measure keys collide or a range is reversed.
    """
    schema = yaml.safe_load(Path(schema_path).read_text())
    filled = copy.deepcopy(dict(config))
    validator = _extend_with_default(jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(filled), key=lambda e: list(e.absolute_path))
    if errors:
        problems = "\n  - ".join(_describe_error(e, schema) for e in errors)
        raise InputError(
            f"The config is not valid:\n  - {problems}\n"
            "Fix the config file (see config/README.md for every key)."
        )
    _check_measures(filled)
    _check_data(filled)
    _check_columns(filled)
    _check_analysis(filled)
    return filled


def _check_data(config: Mapping[str, Any]) -> None:
    data = config["data"]
    if data["source"] == "files":
        missing = [t for t in ("sessions", "therapists") if not data["files"].get(t)]
        if missing:
            raise InputError(
                f"data.source is 'files' but data.files.{missing[0]} is not set; give the "
                "path of the sessions and therapists tables under data.files."
            )
    roles = data["columns"]
    if len(set(roles.values())) < len(roles):
        raise InputError(
            f"data.columns maps two roles to the same column ({roles}); patient, therapist "
            "and session must be different columns."
        )


def _check_measures(config: Mapping[str, Any]) -> None:
    measures = config["measures"]
    seen: dict[str, str] = {}
    for kind in ("outcomes", "processes", "moderators", "covariates"):
        for key, spec in measures.get(kind, {}).items():
            _check_items(f"measures.{kind}.{key}", spec)
            if key in seen:
                raise InputError(
                    f"measure key '{key}' is used under measures.{seen[key]} and "
                    f"measures.{kind}; give each measure its own key."
                )
            seen[key] = kind
            rng = spec.get("range")
            if rng is not None and rng[0] >= rng[1]:
                raise InputError(
                    f"measures.{kind}.{key}.range is {rng}: the minimum must be below the maximum."
                )


# Canonical column names of the cleaned tables: a measure key equal to one of them would
# overwrite the ids or the session order.
RESERVED_KEYS = ("patient", "therapist", "session")
KINDS = {"outcomes": "sessions", "processes": "sessions", "moderators": "therapists",
         "covariates": "patients"}  # fmt: skip
TABLE_ROLES = {"sessions": ("patient", "therapist", "session"), "therapists": ("therapist",),
               "patients": ("patient",)}  # fmt: skip


def _check_columns(config: Mapping[str, Any]) -> None:
    """Each file column feeds one measure, and no measure reads an id or session column."""
    measures_cfg = config["measures"]
    roles = config["data"]["columns"]
    for kind in KINDS:
        for key in measures_cfg.get(kind, {}):
            if key.casefold() in RESERVED_KEYS:
                example = f"'{key}_score'" + (
                    " or 'srs' for the Session Rating Scale" if key.casefold() == "session" else ""
                )
                raise InputError(
                    f"measures.{kind}.{key}: the key '{key}' is reserved for the "
                    f"{key.casefold()} ids or numbers of the cleaned tables. Rename the key "
                    f"(for example {example}); its 'column' may keep the file's column name."
                )
    derived = _derived_names(measures_cfg)
    for kind in ("moderators", "covariates"):
        for key in measures_cfg.get(kind, {}):
            if key in derived:
                raise InputError(
                    f"measures.{kind}.{key}: the key '{key}' is also the name of the derived "
                    f"variable {key} of measures.{derived[key]}. Rename the key."
                )
    users: dict[tuple[str, str], list[str]] = {}
    for kind, table in KINDS.items():
        for key, spec in measures_cfg.get(kind, {}).items():
            columns = spec.get("items") or [spec.get("column")]
            for column in columns:
                users.setdefault((table, str(column)), []).append(f"measures.{kind}.{key}")
    for (table, column), keys in users.items():
        if len(keys) > 1:
            raise InputError(
                f"column '{column}' of the {table} table is used by {' and '.join(keys)}; "
                "a column can hold only one measure, or the analysis would relate a measure "
                "to itself. Point each measure at its own column (check for a copy-paste "
                "slip in the config)."
            )
        role = next((r for r in TABLE_ROLES[table] if roles[r] == column), None)
        if role is not None:
            raise InputError(
                f"{keys[0]} reads column '{column}', which data.columns.{role} names as the "
                f"{role} column of the {table} table. Point {keys[0]} at the column "
                "that holds the measure's scores."
            )


def _derived_names(measures_cfg: Mapping[str, Any]) -> dict[str, str]:
    names: dict[str, str] = {}
    for key in measures_cfg.get("outcomes", {}):
        for name in (f"n_{key}", f"baseline_{key}", f"post_{key}", f"baseline_{key}_c"):
            names[name] = f"outcomes.{key}"
    for key in measures_cfg.get("processes", {}):
        for name in (f"{key}_mean", f"{key}_within", f"{key}_between"):
            names[name] = f"processes.{key}"
    return names


def _check_window(where: str, window: Sequence[int] | None) -> None:
    if window and window[0] > window[1]:
        raise InputError(
            f"{where} is {list(window)}: the first session must not be "
            f"after the last. Did you mean [{window[1]}, {window[0]}]?"
        )


def _check_analysis(config: Mapping[str, Any]) -> None:
    _check_window("analysis.process_sessions", config.get("analysis", {}).get("process_sessions"))
    seen: dict[str, int] = {}
    measure_keys = {k for kind in config["measures"].values() for k in kind}
    for i, variant in enumerate(config.get("robustness", [])):
        where = f"robustness[{i}] ({variant['name']})"
        if variant["name"] in seen:
            raise InputError(
                f"{where}: the name {variant['name']!r} is also robustness[{seen[variant['name']]}]"
                "; give each robustness variant its own name."
            )
        seen[variant["name"]] = i
        if set(variant) <= {"name", "label"}:
            raise InputError(
                f"{where} changes nothing: add at least one setting (process_before_outcome, "
                "process_sessions, min_caseload_slopes, min_outcome_assessments, "
                "completers_only, adjust_sessions, covariates; see config/README.md)."
            )
        _check_window(f"{where}.process_sessions", variant.get("process_sessions"))
        clash = sorted(set(variant.get("covariates", {})) & (measure_keys | set(RESERVED_KEYS)))
        if clash:
            raise InputError(
                f"{where}.covariates: {', '.join(clash)} is already a measure key or a reserved "
                "name; give the covariate another key."
            )
        files = config["data"].get("files", {})
        if variant.get("covariates") and config["data"]["source"] == "files":
            if not files.get("patients"):
                raise InputError(
                    f"{where}.covariates needs the patients table: set data.files.patients "
                    "to the file with one row per patient."
                )


def variant_config(config: Mapping[str, Any], variant: Mapping[str, Any]) -> dict[str, Any]:
    """The config of one robustness variant: the main analysis with the variant's settings.

    ``process_sessions`` and ``min_caseload_slopes`` replace the ``analysis`` keys,
    ``min_outcome_assessments`` the ``cleaning`` key, and ``covariates`` are added to
    ``measures.covariates``. The variant's other settings (``process_before_outcome``,
    ``completers_only``, ``adjust_sessions``) act on the cleaned data
    (:mod:`process_outcome.analysis.robustness`).

    Examples
    --------
    >>> main = {"analysis": {"process_sessions": None, "min_caseload_slopes": 1},
    ...         "cleaning": {"min_outcome_assessments": 2}, "measures": {"outcomes": {}}}
    >>> variant_config(main, {"name": "early", "label": "Early", "process_sessions": [1, 3]})[
    ...     "analysis"]
    {'process_sessions': [1, 3], 'min_caseload_slopes': 1}
    """
    out = copy.deepcopy(dict(config))
    for key in ("process_sessions", "min_caseload_slopes"):
        if key in variant:
            out["analysis"][key] = copy.deepcopy(variant[key])
    if "min_outcome_assessments" in variant:
        out["cleaning"]["min_outcome_assessments"] = variant["min_outcome_assessments"]
    if variant.get("covariates"):
        out["measures"]["covariates"] = {
            **out["measures"].get("covariates", {}),
            **copy.deepcopy(dict(variant["covariates"])),
        }
    return out


def _check_items(where: str, spec: Mapping[str, Any]) -> None:
    items = spec.get("items")
    if not items:
        for key in ("reverse_items", "item_range"):
            if key in spec:
                raise InputError(f"{where}.{key} is set but {where} has no items list.")
        return
    if "item_range" not in spec:
        raise InputError(
            f"{where} is scored from items: give the items' response scale as "
            f"{where}.item_range: [min, max] (needed for reverse-keying and range checks)."
        )
    unknown = sorted(set(spec.get("reverse_items", [])) - set(items))
    if unknown:
        raise InputError(
            f"{where}.reverse_items names {', '.join(unknown)}, which are not in {where}.items."
        )


def load_config(path: str | Path, schema_path: str | Path) -> dict[str, Any]:
    """Read a YAML config file and validate it with :func:`validate_config`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"config file {path} does not exist; pass an existing --configfile.")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"config file {path} is not valid YAML: {exc}") from None
    return validate_config(raw, schema_path)


def _measure(
    key: str, spec: Mapping[str, Any], kind: MeasureKind, table: str, codes: tuple = ()
) -> Measure:
    def pair(name: str) -> tuple[float, float] | None:
        return tuple(spec[name]) if spec.get(name) else None  # type: ignore[return-value]

    return Measure(
        key=key,
        column=spec.get("column"),
        label=spec.get("label", key),
        kind=kind,
        table=table,  # type: ignore[arg-type]
        range=pair("range"),
        higher_is=spec.get("higher_is"),
        type=spec.get("type"),
        units=spec.get("units", ""),
        items=tuple(spec.get("items", ())),
        reverse_items=tuple(spec.get("reverse_items", ())),
        item_range=pair("item_range"),
        scoring=spec.get("scoring", "mean"),
        min_answered=float(spec.get("min_answered", 0.75)),
        reference=spec.get("reference"),
        missing_codes=tuple(sorted({float(c) for c in [*codes, *spec.get("missing_codes", ())]})),
    )


def measures(config: Mapping[str, Any]) -> list[Measure]:
    """All configured measures as :class:`Measure` objects, in config order.

    Outcomes first, then processes, moderators and covariates.
    """
    m = config["measures"]
    codes = tuple(config.get("data", {}).get("missing_codes", ()))
    kinds: tuple[tuple[str, MeasureKind], ...] = (
        ("outcomes", "outcome"),
        ("processes", "process"),
        ("moderators", "moderator"),
        ("covariates", "covariate"),
    )
    return [
        _measure(k, v, kind, KINDS[section], codes)
        for section, kind in kinds
        for k, v in m.get(section, {}).items()
    ]


def measures_of(config: Mapping[str, Any], kind: MeasureKind) -> list[Measure]:
    """The configured measures of one kind, in config order."""
    return [m for m in measures(config) if m.kind == kind]
