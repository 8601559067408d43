"""Another lab's files at first contact: one table of bad and awkward inputs.

Each case changes the reference study (tests/data/study42) the way real lab files
differ: delimiters, decimal commas, encodings, title rows, sheets, SPSS missing codes,
id schemes, config slips and samples the models cannot fit. A case either must be read
to exactly the same analysis sample as the plain CSV files (``SAME``), must pass
(``PASSES``), or must stop with an InputError whose message holds every listed
fragment. Every case runs through ``validate_data`` (the library behind ``snakemake
validate``); the cases marked ``cli`` also run as a user runs them: the workflow copied
to a fresh directory, ``python -m snakemake validate --cores 1 --configfile my.yaml``
from that directory.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from process_outcome.config import validate_config
from process_outcome.errors import InputError
from process_outcome.steps.data import validate_data
from tests.conftest import (
    REFERENCE_DIR,
    ROOT,
    SCHEMA,
    STUDY42_CONFIG,
    snakemake_command,
    user_checkout,
)

LAB_FILES = ROOT / "tests" / "data" / "lab_files"
SAME = ["<same sample>"]
PASSES: list[str] = []
FIRST_NAMES = (
    "Max May Will Anna Jürgen Søren Zoë Ana Ben Bo Chris Dana Eve Finn Gus Hana Ida Jan Kai "
    "Lea Mia Nils Ola Pia Quinn Rosa Sam Tim Uma Vic Wen Xia Yan Zoe Amir Björn Chloé Dário "
    "Émile Frida Göran Hélène"
).split()


@dataclass
class Lab:
    """The files and config of one case; ``write`` puts them in ``root/data``."""

    root: Path
    sessions: pd.DataFrame
    therapists: pd.DataFrame
    config: dict
    patients: pd.DataFrame | None = None
    names: dict[str, str] = field(
        default_factory=lambda: {"sessions": "sessions.csv", "therapists": "therapists.csv"}
    )
    writers: dict[str, Callable[[pd.DataFrame, Path], None]] = field(default_factory=dict)
    after_write: Callable[[], None] | None = None

    def write(self) -> None:
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        tables = {"sessions": self.sessions, "therapists": self.therapists}
        if self.patients is not None:
            tables["patients"] = self.patients
            self.names.setdefault("patients", "patients.csv")
        for table, df in tables.items():
            path = self.root / "data" / self.names[table]
            self.writers.get(table, csv_writer())(df, path)
            self.config["data"]["files"][table] = f"data/{self.names[table]}"
        if self.after_write:
            self.after_write()


def csv_writer(**kw) -> Callable[[pd.DataFrame, Path], None]:
    return lambda df, path: df.to_csv(path, index=False, **kw)


def bytes_writer(encoding: str, **kw) -> Callable[[pd.DataFrame, Path], None]:
    def write(df: pd.DataFrame, path: Path) -> None:
        path.write_bytes(df.to_csv(index=False, **kw).encode(encoding))

    return write


def text_writer(transform: Callable[[str], str], **kw) -> Callable[[pd.DataFrame, Path], None]:
    def write(df: pd.DataFrame, path: Path) -> None:
        path.write_text(transform(df.to_csv(index=False, **kw)), encoding="utf-8")

    return write


def excel_writer(sheet: str = "Sheet1", before: tuple[str, ...] = (), title_rows: int = 0):
    def write(df: pd.DataFrame, path: Path) -> None:
        with pd.ExcelWriter(path) as xl:
            for name in before:
                pd.DataFrame({"Hinweis": ["Daten siehe nächstes Blatt"]}).to_excel(
                    xl, sheet_name=name, index=False
                )
            if title_rows:
                pd.DataFrame([["Export Ambulanz 2023"]]).to_excel(
                    xl, sheet_name=sheet, index=False, header=False
                )
            df.to_excel(xl, sheet_name=sheet, index=False, startrow=title_rows)

    return write


def sav_writer(missing: dict | None = None) -> Callable[[pd.DataFrame, Path], None]:
    def write(df: pd.DataFrame, path: Path) -> None:
        import pyreadstat

        pyreadstat.write_sav(df, str(path), missing_ranges=missing or {})

    return write


# ----------------------------------------------------------------------------- mutations


def rename_ids(lab: Lab, column: str, mapping: Callable[[str], str]) -> None:
    for df in (lab.sessions, lab.therapists, lab.patients):
        if df is not None and column in df:
            df[column] = df[column].map(mapping)


def therapist_names(lab: Lab) -> None:
    order = sorted(lab.therapists["therapist_id"])
    names = dict(zip(order, FIRST_NAMES, strict=True))
    rename_ids(lab, "therapist_id", names.__getitem__)


def add_patients(lab: Lab) -> None:
    ids = sorted(lab.sessions["patient_id"].unique())
    number = np.array([int(re.sub(r"\D", "", i)) for i in ids])
    lab.patients = pd.DataFrame(
        {"patient_id": ids, "age": 20 + number % 47, "arm": np.where(number % 2, "cbt", "usual")}
    )
    lab.config["measures"]["covariates"] = {"age": {"column": "age", "type": "continuous"}}


def set_cells(df: pd.DataFrame, column: str, rows, value) -> None:
    df[column] = df[column].astype(object)
    df.loc[rows, column] = value


def restart_patients(lab: Lab) -> None:
    # Patients numbered 1, 2, 3 … again within each therapist.
    first = lab.sessions.groupby("therapist_id")["patient_id"].transform(
        lambda p: pd.factorize(p)[0] + 1
    )
    lab.sessions["patient_id"] = first.astype(str)


def one_patient_each(lab: Lab) -> None:
    first = lab.sessions.groupby("therapist_id")["patient_id"].transform("first")
    lab.sessions = lab.sessions[lab.sessions["patient_id"] == first].reset_index(drop=True)


def keep_therapists(lab: Lab, n: int) -> None:
    keep = sorted(lab.therapists["therapist_id"])[:n]
    lab.sessions = lab.sessions[lab.sessions["therapist_id"].isin(keep)].reset_index(drop=True)


def constant_within(lab: Lab) -> None:
    lab.sessions["alliance"] = lab.sessions.groupby("therapist_id")["alliance"].transform("mean")


def moderator_for(lab: Lab, n: int) -> None:
    lab.therapists.loc[lab.therapists.index[n:], "experience"] = np.nan


def set_config(path: str, value) -> Callable[[Lab], None]:
    def change(lab: Lab) -> None:
        node = lab.config
        *parents, last = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value

    return change


def both(*changes: Callable[[Lab], None]) -> Callable[[Lab], None]:
    def change(lab: Lab) -> None:
        for c in changes:
            c(lab)

    return change


def writer(table: str, write, name: str | None = None) -> Callable[[Lab], None]:
    def change(lab: Lab) -> None:
        lab.writers[table] = write
        if name:
            lab.names[table] = name

    return change


def alliance_missing_as(code) -> Callable[[Lab], None]:
    def change(lab: Lab) -> None:
        set_cells(lab.sessions, "alliance", lab.sessions["alliance"].isna(), code)

    return change


def symptoms_at(rows, value) -> Callable[[Lab], None]:
    return lambda lab: set_cells(lab.sessions, "symptoms", rows, value)


def as_float(column: str) -> Callable[[Lab], None]:
    return lambda lab: lab.sessions.__setitem__(column, lab.sessions[column].astype(float))


def patient_ids_numeric(lab: Lab) -> None:
    rename_ids(lab, "patient_id", lambda p: str(int(p[1:])))


def lab_fixture(lab: Lab) -> None:
    """The hand-made Ambulanz files: cp1252, semicolons, decimal commas, a title row."""
    for name in ("ambulanz_sessions.csv", "ambulanz_therapists.csv"):
        shutil.copy(LAB_FILES / name, lab.root / "data" / name)
    lab.config.clear()
    lab.config.update(yaml.safe_load((LAB_FILES / "ambulanz.yaml").read_text()))


CASES: dict[str, tuple[Callable[[Lab], None], list[str], bool]] = {
    # --- delimiters, decimal marks, encodings (read to the same sample)
    "semicolon, decimal comma": (
        writer("sessions", csv_writer(sep=";", decimal=",")), SAME, False),
    "semicolon, decimal comma, cp1252 names": (
        both(therapist_names, writer("sessions", bytes_writer("cp1252", sep=";", decimal=",")),
             writer("therapists", bytes_writer("cp1252", sep=";", decimal=","))), SAME, False),
    "latin-1 in both tables": (
        both(therapist_names, writer("sessions", bytes_writer("latin-1")),
             writer("therapists", bytes_writer("latin-1"))), SAME, False),
    "latin-1 sessions, utf-8 therapists": (
        both(therapist_names, writer("sessions", bytes_writer("latin-1"))), SAME, False),
    "utf-8 with BOM": (writer("sessions", bytes_writer("utf-8-sig")), SAME, False),
    "utf-16 tab text (Excel unicode text)": (
        writer("sessions", bytes_writer("utf-16", sep="\t"), "sessions.txt"), SAME, False),
    "tab-separated .tsv": (writer("sessions", csv_writer(sep="\t"), "sessions.tsv"), SAME, False),
    "tab-separated file named .csv": (writer("sessions", csv_writer(sep="\t")), SAME, False),
    "pipe-separated .txt": (writer("sessions", csv_writer(sep="|"), "sessions.txt"), SAME, False),
    "CRLF line ends": (writer("sessions", csv_writer(lineterminator="\r\n")), SAME, False),
    "declared delimiter and decimal": (
        both(writer("sessions", csv_writer(sep=";", decimal=",")),
             set_config("data.read", {"sessions": {"delimiter": ";", "decimal": ","}})),
        SAME, False),
    "wrong declared delimiter": (
        set_config("data.read", {"sessions": {"delimiter": ";"}}),
        ["read with the semicolon", "separated by the comma", "delimiter: ','"], False),
    "wrong declared encoding": (
        both(therapist_names, writer("sessions", bytes_writer("cp1252")),
             set_config("data.read", {"sessions": {"encoding": "utf-8"}})),
        ["cannot be decoded as utf-8", "byte 0x", "on line", "data.read.sessions.encoding"],
        False),
    "unknown encoding name": (
        set_config("data.read", {"sessions": {"encoding": "western"}}),
        ["'western'", "does not know", "cp1252"], False),
    "decimal comma in a comma file": (
        lambda lab: set_cells(lab.sessions, "functioning", [3], "2,5"),
        ["column 'functioning'", "row 5", "'2,5'", "decimal comma"], False),
    "extra unquoted field": (
        writer("sessions", text_writer(lambda t: t.replace("\n", ",late entry\n", 4)[:]
                                       .replace(",late entry\n", "\n", 3))),
        ["could not be split into columns", "comma", "data.read.sessions.delimiter"], False),
    # --- empty, header-only, titles, sheets, duplicated names
    "empty file": (writer("sessions", lambda df, p: p.write_bytes(b"")),
                   ["sessions table", "is empty (0 bytes)"], False),
    "blank lines only": (writer("therapists", lambda df, p: p.write_text("\n\n  \n")),
                         ["therapists table", "no header and no rows"], False),
    "header only": (writer("therapists", lambda df, p: df.head(0).to_csv(p, index=False)),
                    ["therapists table", "no data rows"], False),
    "title rows above the header": (
        writer("sessions", text_writer(lambda t: "Export Ambulanz 2023\n\n" + t)),
        ["on row 3", "'Export Ambulanz 2023'", "data.read.sessions.header_row: 3"], True),
    "title rows with header_row set": (
        both(writer("sessions", text_writer(lambda t: "Export Ambulanz 2023\n\n" + t)),
             set_config("data.read", {"sessions": {"header_row": 3}})), SAME, False),
    "Excel title row": (
        writer("therapists", excel_writer(title_rows=2), "therapists.xlsx"),
        ["on row 3", "data.read.therapists.header_row: 3"], False),
    "Excel data on second sheet": (
        writer("therapists", excel_writer("Daten", before=("Info",)), "therapists.xlsx"),
        ["sheet 'Info' has no column 'therapist_id'", "data.read.therapists.sheet: 'Daten'"],
        False),
    "Excel second sheet below a title": (
        writer("therapists", excel_writer("Daten", ("Info",), 1), "therapists.xlsx"),
        ["data.read.therapists.sheet: 'Daten'", "header_row: 2"], False),
    "Excel second sheet configured": (
        both(writer("therapists", excel_writer("Daten", before=("Info",)), "therapists.xlsx"),
             set_config("data.read", {"therapists": {"sheet": "Daten"}})), SAME, False),
    "Excel sheet by data.sheets": (
        both(writer("therapists", excel_writer("Daten", before=("Info",)), "therapists.xlsx"),
             set_config("data.sheets", {"therapists": 1})), SAME, False),
    "Excel sheet that does not exist": (
        both(writer("therapists", excel_writer(), "therapists.xlsx"),
             set_config("data.read", {"therapists": {"sheet": "Therapeuten"}})),
        ["no sheet 'Therapeuten'", "'Sheet1'", "data.read.therapists.sheet"], False),
    "duplicated column name used": (
        writer("sessions", text_writer(lambda t: t.replace("expectation", "alliance", 1))),
        ["'alliance'", "occurs 2 times", "columns 6, 7", "Rename or delete"], False),
    "duplicated column name unused": (
        lambda lab: lab.therapists.insert(1, "comment", "x")
        or lab.therapists.insert(2, "remark", "y")
        or writer("therapists", text_writer(lambda t: t.replace(",remark,", ",comment,", 1)))(lab),
        SAME, False),
    "column names with trailing spaces": (
        writer("sessions", text_writer(lambda t: t.replace("alliance,", "alliance ,", 1))),
        SAME, False),
    "column name in other case": (
        writer("sessions", text_writer(lambda t: t.replace("patient_id", "Patient_ID", 1))),
        ["column 'patient_id'", "Did you mean 'Patient_ID'?"], False),
    "Stata file": (writer("sessions", lambda df, p: df.to_stata(p, write_index=False),
                          "sessions.dta"), SAME, False),
    "Parquet file": (writer("sessions", lambda df, p: df.to_parquet(p), "sessions.parquet"),
                     SAME, False),
    # --- missing codes and impossible numbers
    "SPSS user-missing -99 declared": (
        both(alliance_missing_as(-99.0),
             as_float("alliance"),
             writer("sessions", sav_writer({"alliance": [-99.0]}), "sessions.sav")),
        SAME, False),
    "SPSS user-missing range declared": (
        both(alliance_missing_as(-999.0),
             as_float("alliance"),
             writer("sessions", sav_writer({"alliance": [{"lo": -999.0, "hi": -90.0}]}),
                    "sessions.sav")),
        SAME, False),
    "SPSS -99 not declared": (
        both(symptoms_at([5, 60], -99.0),
             as_float("symptoms"),
             writer("sessions", sav_writer(), "sessions.sav")),
        ["column 'symptoms'", "rows 7, 62", "-99", "missing-value code",
         "measures.outcomes.symptoms.missing_codes: [-99]", "range"], False),
    "CSV -99 undeclared": (symptoms_at([5, 60], -99),
                           ["rows 7, 62", "hold -99", "missing_codes: [-99]"], True),
    "CSV -999 undeclared": (symptoms_at([9], -999), ["row 11", "-999"], False),
    "CSV 999 undeclared": (symptoms_at([9, 10], 999), ["rows 11, 12", "999"], False),
    "moderator -99 undeclared": (
        lambda lab: set_cells(lab.therapists, "experience", [2], -99),
        ["therapists table", "column 'experience'", "row 4",
         "measures.moderators.experience.missing_codes"], False),
    "-99 declared in data.missing_codes": (
        both(symptoms_at([5, 60], -99), set_config("data.missing_codes", [-99])), PASSES, False),
    "-99 declared for the measure": (
        both(symptoms_at([5, 60], -99),
             set_config("measures.outcomes.symptoms.missing_codes", [-99])),
        PASSES, False),
    "-99 with a range": (
        both(symptoms_at([5, 60], -99),
             lambda lab: lab.config["measures"]["outcomes"]["symptoms"].update(range=[0, 10])),
        PASSES, False),
    "99 as a real score on a 0-180 scale": (
        both(lambda lab: lab.sessions.__setitem__("symptoms", lab.sessions["symptoms"] * 50),
             symptoms_at([5], 99)), PASSES, False),
    "inf text": (symptoms_at([3], "inf"), ["column 'symptoms'", "row 5", "inf", "infinite"], False),
    "-inf text": (lambda lab: set_cells(lab.sessions, "expectation", [7], "-inf"),
                  ["column 'expectation'", "row 9", "-inf"], False),
    "1e300": (lambda lab: set_cells(lab.sessions, "functioning", [2], "1e300"),
              ["column 'functioning'", "row 4", "1e+300", "beyond"], False),
    "NaN text for missing": (alliance_missing_as("NaN"), SAME, False),
    "NA text for missing": (alliance_missing_as("NA"), SAME, False),
    # --- ids
    "therapist ids T01": (
        lambda lab: rename_ids(lab, "therapist_id", lambda t: f"T{int(t[1:]) + 1:02d}"),
        SAME, False),
    "therapist first names": (therapist_names, SAME, False),
    "numeric patient ids": (patient_ids_numeric, SAME, False),
    "patient ids 12.0 vs 12": (
        both(patient_ids_numeric, add_patients,
             lambda lab: lab.sessions.__setitem__("patient_id", lab.sessions["patient_id"] + ".0")),
        SAME, False),
    "leading zeros in both tables": (
        lambda lab: rename_ids(lab, "therapist_id", lambda t: f"00{int(t[1:])}"), SAME, False),
    "leading zeros lost in Excel": (
        both(lambda lab: rename_ids(lab, "therapist_id", lambda t: f"0{int(t[1:]) + 10}"),
             lambda lab: lab.therapists.__setitem__("therapist_id",
                                                    lab.therapists["therapist_id"].astype(int)),
             writer("therapists", excel_writer(), "therapists.xlsx")),
        ["therapist id(s)", "'010' (near '10')", "leading zeros", "store ids as text"], False),
    "numeric ids in Excel, text in CSV": (
        both(lambda lab: rename_ids(lab, "therapist_id", lambda t: str(int(t[1:]) + 1)),
             lambda lab: lab.therapists.__setitem__("therapist_id",
                                                    lab.therapists["therapist_id"].astype(int)),
             writer("therapists", excel_writer(), "therapists.xlsx")), SAME, False),
    "C-001 vs C-0001": (
        both(lambda lab: rename_ids(lab, "patient_id", lambda p: f"C-{int(p[1:]):04d}"),
             add_patients,
             lambda lab: lab.patients.__setitem__(
                 "patient_id", lab.patients["patient_id"].str.replace("C-0", "C-"))),
        ["patient ids", "have no row in the patients table", "'C-0001' (near 'C-001')",
         "leading zeros"], False),
    "patients table missing one patient": (
        both(add_patients, lambda lab: setattr(lab, "patients", lab.patients.iloc[1:])),
        PASSES, False),
    "trailing spaces in sessions ids only": (
        lambda lab: lab.sessions.__setitem__("therapist_id", lab.sessions["therapist_id"] + " "),
        SAME, False),
    "trailing spaces in patients table only": (
        both(add_patients,
             lambda lab: lab.patients.__setitem__("patient_id", " " + lab.patients["patient_id"])),
        SAME, False),
    "case differs between tables": (
        lambda lab: lab.therapists.__setitem__("therapist_id",
                                               lab.therapists["therapist_id"].str.lower()),
        ["42 therapist id(s)", "'T000' (near 't000')", "case"], False),
    "patient numbers restart per therapist": (
        restart_patients, ["restart for each therapist", "unique", "therapists T000"], False),
    # --- config slips
    "process keyed session": (
        lambda lab: lab.config["measures"]["processes"].update(
            session={"column": "expectation", "range": [1, 9]})
        or lab.config["measures"]["processes"].pop("expectation"),
        ["measures.processes.session", "reserved", "Rename the key"], True),
    "moderator keyed therapist": (
        lambda lab: lab.config["measures"]["moderators"].update(
            therapist=lab.config["measures"]["moderators"].pop("experience")),
        ["measures.moderators.therapist", "reserved"], False),
    "same column as outcome and process": (
        lambda lab: lab.config["measures"]["processes"]["alliance"].update(column="symptoms"),
        ["column 'symptoms' of the sessions table",
         "measures.outcomes.symptoms and measures.processes.alliance"], True),
    "same item in two measures": (
        lambda lab: lab.config["measures"]["processes"].update(
            bond={"items": ["alliance", "expectation"], "item_range": [1, 9]}),
        ["column 'alliance'", "measures.processes.alliance and measures.processes.bond"], False),
    "process reads the session column": (
        lambda lab: lab.config["measures"]["processes"]["alliance"].update(column="session"),
        ["data.columns.session", "Point measures.processes.alliance"], False),
    "moderator named like a derived variable": (
        lambda lab: lab.config["measures"]["moderators"].update(
            alliance_within={"column": "cbt", "type": "binary"})
        or lab.config["measures"]["moderators"].pop("cbt"),
        ["measures.moderators.alliance_within", "derived variable"], False),
    "reversed process_sessions": (
        set_config("analysis.process_sessions", [5, 1]),
        ["analysis.process_sessions is [5, 1]", "Did you mean [1, 5]"], False),
    "reversed range": (
        lambda lab: lab.config["measures"]["processes"]["alliance"].update(range=[5, 1]),
        ["measures.processes.alliance.range", "minimum must be below"], False),
    # --- samples the models cannot fit
    "constant outcome": (lambda lab: lab.sessions.__setitem__("symptoms", 2.0),
                         ["outcome symptoms", "same", "score 2"], True),
    "process constant within every therapist": (
        constant_within, ["process alliance", "within-therapist association"], False),
    "every therapist with one patient": (one_patient_each, ["single patient"], False),
    "moderator for only two therapists": (
        lambda lab: moderator_for(lab, 2), ["moderator experience", "only 2 of the 42"], False),
    "fewer than three therapists": (
        lambda lab: keep_therapists(lab, 2), ["2 therapist(s)", "at least 3 therapists"], False),
    "min_caseload_slopes too high": (
        set_config("analysis.min_caseload_slopes", 9),
        ["min_caseload_slopes is 9", "Set analysis.min_caseload_slopes to"], False),
    "two processes with the same values": (
        lambda lab: lab.sessions.__setitem__("expectation", lab.sessions["alliance"]),
        ["aim 1 joint", "expectation_within is a linear combination"], False),
    # --- a hand-made lab export
    "Ambulanz export (cp1252, ;, decimal comma, title row)": (
        lab_fixture, ["Analysis sample: 15 patients, 5 therapists, 60 session rows."], True),
}  # fmt: skip


# ----------------------------------------------------------------------------- issue 20


def alliance_items(low: int = 0, reverse_first: bool = False, item_range=(1, 7)):
    """Alliance scored from three 7-point items exported ``low`` to ``low + 6`` (the
    third reverse-keyed), declared with ``item_range``."""

    def change(lab: Lab) -> None:
        a = lab.sessions["alliance"].where(lab.sessions["alliance"] >= 1)
        r = pd.qcut(a.rank(method="first"), 7, labels=False)
        lab.sessions["a1"] = r + low
        lab.sessions["a2"] = (r + lab.sessions["session"] % 3 - 1).clip(0, 6) + low
        lab.sessions["a3"] = 6 - r + low
        items = ["a3", "a1", "a2"] if reverse_first else ["a1", "a2", "a3"]
        lab.config["measures"]["processes"]["alliance"] = {
            "items": items,
            "reverse_items": ["a3"],
            "item_range": list(item_range),
            "label": "Alliance",
        }

    return change


def rescale_expectation(lab: Lab) -> None:
    # Rescaled 1-9 -> 0-100 in the file, the config's range left at 0 to 40.
    e = lab.sessions["expectation"].where(lab.sessions["expectation"] <= 9)
    lab.sessions["expectation"] = ((e - 1) / 8 * 100).round(1)
    lab.config["measures"]["processes"]["expectation"]["range"] = [0, 40]


def utf16_without_bom(sep: str) -> Callable[[pd.DataFrame, Path], None]:
    def write(df: pd.DataFrame, path: Path) -> None:
        path.write_bytes(df.to_csv(index=False, sep=sep).encode("utf-16-le"))

    return write


def hidden_test_patient(lab: Lab) -> None:
    """Two rows of a test patient added at the end of the sessions sheet and hidden."""
    test = lab.sessions.iloc[:2].copy()
    test["patient_id"] = "TEST"
    lab.sessions = pd.concat([lab.sessions, test], ignore_index=True)

    def write(df: pd.DataFrame, path: Path) -> None:
        import openpyxl

        df.to_excel(path, index=False)
        book = openpyxl.load_workbook(path)
        sheet = book.active
        for row in (len(df), len(df) + 1):  # the last two data rows (header is row 1)
            sheet.row_dimensions[row].hidden = True
        book.save(path)

    writer("sessions", write, "sessions.xlsx")(lab)


def formulas_without_results(df: pd.DataFrame, path: Path) -> None:
    """A workbook written by a script: the functioning column as formulas, no results."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(df.columns))
    f = list(df.columns).index("functioning")
    for row in df.itertuples(index=False):
        values = [None if pd.isna(v) else v for v in row]
        values[f] = f"=ROUND({values[f]}*1,3)" if values[f] is not None else None
        sheet.append(values)
    book.save(path)


def redcap_export(lab: Lab) -> None:
    """A REDCap repeating-instruments export: per patient one row of the non-repeating
    enrolment form (therapist id there only), then the repeated session rows."""
    s = lab.sessions
    s["redcap_repeat_instrument"] = "session"
    s["redcap_repeat_instance"] = s["session"]
    enrol = s.drop_duplicates("patient_id")[["patient_id", "therapist_id"]].copy()
    enrol["redcap_repeat_instrument"] = None
    s["therapist_id"] = None
    rows = pd.concat([enrol, s], ignore_index=True)
    order = rows["patient_id"].map({p: i for i, p in enumerate(enrol["patient_id"])})
    lab.sessions = rows.iloc[np.argsort(order.to_numpy(), kind="stable")][
        [
            "patient_id",
            "redcap_repeat_instrument",
            "redcap_repeat_instance",
            "therapist_id",
            *[
                c
                for c in s.columns
                if c
                not in {
                    "patient_id",
                    "therapist_id",
                    "redcap_repeat_instrument",
                    "redcap_repeat_instance",
                }
            ],
        ]
    ].reset_index(drop=True)


def sessions_named(name: str) -> Callable[[Lab], None]:
    """The sessions file on disk is ``name``; the config still says data/sessions.csv."""

    def change(lab: Lab) -> None:
        (lab.root / "data" / "sessions.csv").unlink()
        lab.writers["sessions"] = lambda df, path: df.to_csv(path.with_name(name), index=False)

    return change


def sessions_path(value: str) -> Callable[[Lab], None]:
    def change(lab: Lab) -> None:
        lab.after_write = lambda: lab.config["data"]["files"].__setitem__("sessions", value)

    return change


ISSUE20_CASES: dict[str, tuple[Callable[[Lab], None], list[str], bool]] = {
    # --- item 4: shifted and stale scales
    "items exported 0-6, item_range [1, 7]": (
        alliance_items(0),
        ["column 'a1'", "item_range 1 to 7", "lie between 0 and 6", "below 1",
         "exported as 0 to 6", "scored 1 point(s) low",
         "measures.processes.alliance.item_range: [0, 6]", "add 1"], True),
    "reverse item exported 0-6, item_range [1, 7]": (
        alliance_items(0, reverse_first=True),
        ["column 'a3'", "reverse-keyed", "8 - x", "item_range: [0, 6]"], False),
    "items exported 2-8, item_range [1, 7]": (
        alliance_items(2),
        ["above 7", "exported as 2 to 8", "subtract 1"], False),
    "items 0-6 declared 0-6": (alliance_items(0, item_range=(0, 6)), PASSES, False),
    "items 1-7 declared 1-7": (alliance_items(1), PASSES, False),
    "one item slip 0 on a 1-7 scale": (
        both(alliance_items(1), lambda lab: set_cells(lab.sessions, "a1", [4], 0)),
        PASSES, False),
    "shifted items, check_scales off": (
        both(alliance_items(0), set_config("cleaning.check_scales", False)), PASSES, False),
    "process 0-100 with a stale range [0, 40]": (
        rescale_expectation,
        ["column 'expectation'", "lie outside the declared range", "above 40 (up to 100)",
         "measures.processes.expectation.range", "stale"], True),
    "moderator 0-6 with range [1, 7]": (
        both(lambda lab: lab.therapists.__setitem__(
                 "self_alliance", (lab.therapists.index % 7).astype(float)),
             lambda lab: lab.config["measures"]["moderators"]["self_alliance"].update(
                 range=[1, 7])),
        ["therapists table", "column 'self_alliance'", "exported as 0 to 6"], False),
    # --- item 6: messages fixed at their root
    "utf-16 tab text without BOM": (
        writer("sessions", utf16_without_bom("\t"), "sessions.txt"), SAME, False),
    "utf-16 comma CSV without BOM": (
        writer("sessions", utf16_without_bom(",")), SAME, True),
    "hidden test patient in Excel": (
        hidden_test_patient,
        ["WARNING", "hidden row(s) (sheet row(s) 980, 981)",
         "data.read.sessions.hidden_rows: skip"], False),
    "hidden test patient skipped": (
        both(hidden_test_patient,
             set_config("data.read", {"sessions": {"hidden_rows": "skip"}})), SAME, False),
    "formulas without stored results": (
        writer("sessions", formulas_without_results, "sessions.xlsx"),
        ["formula cell(s) without a stored result", "=ROUND(",
         "Open the file in Excel or LibreOffice and save it"], True),
    "REDCap repeating-instrument export": (redcap_export, SAME, False),
    "REDCap export, rows set aside said": (
        redcap_export, ["Analysis sample:", "REDCap export: 177 row(s) of the non-repeating "
                        "forms"], True),
    "folder given as the sessions file": (
        sessions_path("data"),
        ["data is a folder, not a file", "sessions.csv",
         "Set data.files.sessions"], True),
    "xlsx renamed .csv": (
        writer("sessions", lambda df, p: df.to_excel(p, index=False)),
        ["data/sessions.csv is named .csv but is an Excel workbook",
         "Rename it to sessions.xlsx"], True),
    "CSV renamed .xlsx": (
        writer("therapists", csv_writer(), "therapists.xlsx"),
        ["therapists.xlsx is named .xlsx but is a text file", "therapists.csv"], False),
    "Sessions.CSV on disk, sessions.csv in the config": (
        sessions_named("Sessions.CSV"),
        ["file data/sessions.csv does not exist", "data/Sessions.CSV",
         "differs only in upper/lower case"], True),
    "sesions.csv typo in the config": (
        sessions_path("data/sesions.csv"),
        ["data/sesions.csv does not exist", "Did you mean data/sessions.csv?"], False),
}  # fmt: skip
CASES.update(ISSUE20_CASES)


def make_lab(root: Path) -> Lab:
    sessions = pd.read_csv(
        REFERENCE_DIR / "sessions.csv", dtype={"patient_id": str, "therapist_id": str}
    )
    therapists = pd.read_csv(REFERENCE_DIR / "therapists.csv", dtype={"therapist_id": str})
    config = copy.deepcopy(STUDY42_CONFIG)
    return Lab(root, sessions, therapists, config)


def prepare(case: str, root: Path) -> Lab:
    lab = make_lab(root)
    lab.write()  # the plain files, replaced below as the case says
    CASES[case][0](lab)
    if case.startswith("Ambulanz"):
        return lab
    lab.write()
    return lab


def run_library(lab: Lab, monkeypatch, capsys) -> str:
    monkeypatch.chdir(lab.root)
    config = validate_config(lab.config, SCHEMA)
    files = config["data"]["files"]
    validate_data(config, files["sessions"], files["therapists"], files.get("patients"))
    return capsys.readouterr().out


def passes(expected: list[str]) -> bool:
    """A case that must pass: the same sample, any sample, or printed fragments (a
    summary line, or a warning)."""
    return expected in (SAME, PASSES) or expected[0].startswith(("Analysis sample", "WARNING"))


def sample_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("Analysis sample:"))


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> str:
    lab = make_lab(tmp_path_factory.mktemp("baseline"))
    lab.write()
    config = validate_config(lab.config, SCHEMA)
    import contextlib
    import io
    import os

    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(lab.root)
    try:
        with contextlib.redirect_stdout(out):
            validate_data(config, **{k: v for k, v in config["data"]["files"].items() if v})
    finally:
        os.chdir(cwd)
    return sample_line(out.getvalue())


def test_at_least_sixty_cases():
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", list(CASES))
def test_case_through_validate(case, tmp_path, monkeypatch, capsys, baseline):
    lab = prepare(case, tmp_path)
    _, expected, _ = CASES[case]
    if passes(expected):
        out = run_library(lab, monkeypatch, capsys)
        if expected is SAME:
            assert sample_line(out) == baseline
        for fragment in [] if expected in (SAME, PASSES) else expected:
            assert fragment in out
        return
    with pytest.raises(InputError) as err:
        run_library(lab, monkeypatch, capsys)
    message = str(err.value)
    for fragment in expected:
        assert fragment in message, f"{case}: {fragment!r} not in:\n{message}"


@pytest.mark.parametrize("case", [c for c, (_, _, cli) in CASES.items() if cli])
def test_case_through_snakemake_validate(case, tmp_path):
    root = user_checkout(tmp_path / "checkout")
    lab = prepare(case, root)
    text = yaml.safe_dump(lab.config, sort_keys=False, allow_unicode=True)
    (root / "my.yaml").write_text(text, encoding="utf-8")
    proc = subprocess.run(
        snakemake_command("my.yaml", "validate", cores=1),
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    _, expected, _ = CASES[case]
    output = proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    if passes(expected):
        assert proc.returncode == 0, output[-3000:]
        log = (root / "results" / "logs" / "validate.log").read_text(encoding="utf-8")
        for fragment in [] if expected in (SAME, PASSES) else expected:
            assert fragment in log
        return
    assert proc.returncode != 0
    flat = " ".join(output.split())
    for fragment in expected:
        assert " ".join(fragment.split()) in flat, f"{case}: {fragment!r} not in:\n{output}"
