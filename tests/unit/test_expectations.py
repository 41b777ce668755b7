"""The Great Expectations suites and their runner, run for real (nothing mocked)."""

from __future__ import annotations

import json
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest

from app.domain.idcard import check_digit
from expectations import runner
from expectations.runner import META_KEYS, SUITES_DIR, FieldError, suite_names, validate_record

ID_NUMBER = "64010420100315123" + check_digit("64010420100315123")  # born 2010-03-15


def make_id(first17: str) -> str:
    return first17 + check_digit(first17)


WRONG_CHECK = ID_NUMBER[:17] + ("0" if ID_NUMBER[17] != "0" else "1")
FULL_WIDTH = ID_NUMBER.translate(str.maketrans("0123456789", "０１２３４５６７８９"))

VALID: dict[str, dict[str, Any]] = {
    "screening_row": {
        "name": "Ma Xiaoling", "sex": "F", "birth_date": "2010-03-15", "id_number": ID_NUMBER,
        "district": "xingqing", "categories": "left_behind、poor_family", "risks": "辍学",
        "address": "Village 1", "guardian_name": "Ma Lan", "guardian_relation": "grandmother",
        "guardian_phone": "139 0000 0000", "as_of": "2024-06-01",
    },
    "child_intake": {
        "name": "Ma Xiaoling", "sex": "F", "birth_date": "2010-03-15", "id_number": ID_NUMBER,
        "district": "xingqing", "intake_date": "2024-06-01", "hukou_district": "other",
    },
    "followup_visit": {
        "visit_date": "2024-07-01", "child_seen": True, "situation": "concern",
        "notes": "Attends school; guardian was away.",
    },
    "settlement_claim": {
        "hospital_code": "hospital:nx-0001", "invoice_no": "INV-2024-0001",
        "admission_date": "2024-05-01", "discharge_date": "2024-05-09",
        "amount_total": 12000.5, "amount_insurance": 8000,
    },
    "hukou_application": {
        "registered_district": "jinfeng", "placement_date": "2020-01-01",
        "application_date": "2024-01-02", "institution": "welfare",
        "address": "No. 1 Beijing Road, Jinfeng District",
    },
    "infant_finding": {
        "category": "abandoned_infant", "found_on": "2024-06-01", "found_district": "xixia",
        "found_place": "Outside a supermarket", "notes": "About two months old.",
    },
    "orphan_allowance": {"enrolled_on": "2024-06-20", "monthly_allowance": 1510},
    "guardian_intervention": {"outcome": "stopped", "acted_on": "2024-06-03"},
    "family_eligibility": {
        "dibao_eligible": True, "disabled": False, "congenital_disability": False,
        "household_size": 3, "income_per_person": 420.5,
    },
    "assistance_grant": {"granted": True, "granted_on": "2024-07-01", "amount": 660},
    "charity_visit": {"circumstance": "mental_disorder", "visited_on": "2024-06-05"},
    "charity_grant": {"paid_on": "2024-06-20", "amount_paid": 3000, "receipt_no": "CF-2024-0001"},
    "school_enrolment": {
        "attending": True, "school": "No. 1 Primary School", "grade": 3,
        "enrolled_on": "2026-09-01", "notes": None,
    },
    "disability_assessment": {
        "assessed_on": "2026-11-20", "disability_category": "hearing", "disability_grade": 2,
        "stage": "preschool", "in_difficulty": True,
    },
    "dropout_report": {
        "reason": "family_hardship", "last_attended_on": "2026-11-20",
        "reported_on": "2026-11-24", "grade": 7,
    },
    "return_effort": {"outcome": "returned", "returned_on": "2026-12-07", "visits": 3},
    "education_aid_application": {
        "aid": "senior_high", "family_status": "near_dibao", "school": "No. 1 High School",
        "academic_year": "2026-2027", "amount_requested": 2000,
    },
    "school_place_application": {
        "stage": "primary", "applied_on": "2026-08-01", "residence_district": "jinfeng",
        "residence_months": 14, "parent_employed": True,
    },
    "proxy_pairing": {"agreed_on": "2026-12-01", "volunteer_code": "V000123",
                      "guardian_consent": True},
    "proxy_contact": {"contact_date": "2027-01-03", "mode": "phone", "concern": False,
                      "pairing": "continue"},
    "family_search": {
        "searched_on": "2026-11-28", "rescue_system_searched": True,
        "population_system_searched": True, "dna_database_searched": True,
    },
    "sealed_record": {
        "record_no": "J3-2027-0001", "authority": "court", "offence_date": "2026-10-03",
        "sealed_on": "2027-01-20",
    },
    "correction_plan": {
        "plan_from": "2027-02-01", "term_months": 6, "identity_protected": True,
        "emotional_support": False, "schooling_or_work": "training",
    },
    "correction_review": {"review_date": "2027-03-01", "progress": "concern"},
    "medical_assistance": {
        "hospital_code": "hospital:first-people", "treatment_from": "2026-10-01",
        "treatment_to": "2026-10-20", "costs_total": 20000, "insurance_paid": 12000.5,
        "amount_requested": 7999.5,
    },
    "assistance_approval": {"outcome": "approved", "amount_approved": 6000,
                            "amount_requested": 6000},
    "family_application": {
        "application_date": "2026-03-02", "applicant_relation": "mother", "applicant_age": 38,
    },
    "service_delivery": {
        "delivered": True, "started_on": "2026-03-16", "ended_on": "2026-04-24", "amount": 1950,
        "hours": 120,
    },
    "vocational_referral": {
        "referral_date": "2026-03-02", "disability_kind": "hearing", "disability_grade": 3,
        "age": 15,
    },
    "counselling_session": {"sessions_held": 8, "first_on": "2026-03-10", "last_on": "2026-04-28"},
    "hotline_report": {
        "source": "12355", "reference": "12355-20261130-0042", "received_on": "2026-11-30",
        "reporter_relation": "neighbour", "reporter_phone": "139-0000-0000",
        "description": "A girl has slept under the bridge for three nights.",
        "street": "xingqing-fenghuang",
    },
    "hotline_result": {"outcome": "resolved", "acted_on": "2026-12-01", "notes": "Taken in."},
    "support_visit": {
        "visit_date": "2026-04-02", "child_seen": True, "mood": "stable", "support_minutes": 60,
        "situation": "ok",
    },
}

# (suite, changes to the valid record, the field refused, the code)
REFUSALS: list[tuple[str, dict[str, Any], str, str]] = [
    ("child_intake", {"name": None}, "name", "name.required"),
    ("child_intake", {"name": "   "}, "name", "name.required"),
    ("child_intake", {"name": 5}, "name", "name.not_text"),
    ("child_intake", {"name": "x" * 65}, "name", "name.length"),
    ("child_intake", {"sex": None}, "sex", "sex.required"),
    ("child_intake", {"sex": "boy?"}, "sex", "sex.invalid"),
    ("child_intake", {"sex": 1}, "sex", "sex.invalid"),
    ("child_intake", {"birth_date": None, "id_number": None}, "birth_date", "birth_date.required"),
    ("child_intake", {"birth_date": "abc"}, "birth_date", "birth_date.not_a_date"),
    ("child_intake", {"birth_date": "2010-02-30"}, "birth_date", "birth_date.not_a_date"),
    ("child_intake", {"birth_date": "20100315"}, "birth_date", "birth_date.not_a_date"),
    ("child_intake", {"birth_date": "2024-06-02", "id_number": None}, "birth_date",
     "birth_date.after_intake"),
    ("child_intake", {"birth_date": "2006-06-01", "id_number": None}, "birth_date",
     "birth_date.adult_at_intake"),
    ("child_intake", {"id_number": 640104201003151230}, "id_number", "id_number.not_text"),
    ("child_intake", {"id_number": ID_NUMBER[:17]}, "id_number", "id_number.format"),
    ("child_intake", {"id_number": ID_NUMBER + "1"}, "id_number", "id_number.format"),
    ("child_intake", {"id_number": "11010519491231002x", "birth_date": "1949-12-31",
                      "intake_date": "1960-01-01"}, "id_number", "id_number.format"),
    ("child_intake", {"id_number": FULL_WIDTH}, "id_number", "id_number.format"),
    ("child_intake", {"id_number": WRONG_CHECK}, "id_number", "id_number.check_digit"),
    ("child_intake", {"id_number": make_id("64010420100230123")}, "id_number",
     "id_number.birth_date_invalid"),
    ("child_intake", {"id_number": make_id("64010420100316123")}, "id_number",
     "id_number.birth_date_mismatch"),
    ("child_intake", {"district": None}, "district", "district.required"),
    ("child_intake", {"district": "beijing"}, "district", "district.invalid"),
    ("child_intake", {"intake_date": None}, "intake_date", "intake_date.required"),
    ("child_intake", {"intake_date": "2024-06-01T10:00"}, "intake_date",
     "intake_date.not_a_date"),
    ("child_intake", {"hukou_district": "Xingqing"}, "hukou_district", "hukou_district.invalid"),
    ("followup_visit", {"visit_date": None}, "visit_date", "visit_date.required"),
    ("followup_visit", {"visit_date": "2024-13-01"}, "visit_date", "visit_date.not_a_date"),
    ("followup_visit", {"child_seen": None}, "child_seen", "child_seen.required"),
    ("followup_visit", {"child_seen": "yes"}, "child_seen", "child_seen.not_a_bool"),
    ("followup_visit", {"child_seen": 1}, "child_seen", "child_seen.not_a_bool"),
    ("followup_visit", {"situation": None}, "situation", "situation.required"),
    ("followup_visit", {"situation": "fine"}, "situation", "situation.invalid"),
    ("followup_visit", {"notes": "n" * 2001}, "notes", "notes.length"),
    ("followup_visit", {"notes": ["a", "b"]}, "notes", "notes.not_text"),
    ("settlement_claim", {"hospital_code": None}, "hospital_code", "hospital_code.required"),
    ("settlement_claim", {"hospital_code": "clinic:nx-0001"}, "hospital_code",
     "hospital_code.format"),
    ("settlement_claim", {"hospital_code": "hospital:"}, "hospital_code", "hospital_code.format"),
    ("settlement_claim", {"invoice_no": None}, "invoice_no", "invoice_no.required"),
    ("settlement_claim", {"invoice_no": "inv-2024-0001"}, "invoice_no", "invoice_no.format"),
    ("settlement_claim", {"invoice_no": "INV"}, "invoice_no", "invoice_no.format"),
    ("settlement_claim", {"invoice_no": "I" * 33}, "invoice_no", "invoice_no.format"),
    ("settlement_claim", {"invoice_no": "INV-0001\n"}, "invoice_no", "invoice_no.format"),
    ("settlement_claim", {"admission_date": None}, "admission_date", "admission_date.required"),
    ("settlement_claim", {"admission_date": "abc"}, "admission_date",
     "admission_date.not_a_date"),
    ("settlement_claim", {"discharge_date": None}, "discharge_date", "discharge_date.required"),
    ("settlement_claim", {"discharge_date": "2024-04-30"}, "discharge_date",
     "discharge_date.before_admission"),
    ("settlement_claim", {"amount_total": None, "amount_insurance": None}, "amount_total",
     "amount_total.required"),
    ("settlement_claim", {"amount_total": "abc"}, "amount_total", "amount_total.not_a_number"),
    ("settlement_claim", {"amount_total": "12000.5"}, "amount_total",
     "amount_total.not_a_number"),
    ("settlement_claim", {"amount_total": True}, "amount_total", "amount_total.not_a_number"),
    ("settlement_claim", {"amount_total": math.nan}, "amount_total", "amount_total.not_a_number"),
    ("settlement_claim", {"amount_total": 0, "amount_insurance": 0}, "amount_total",
     "amount_total.not_positive"),
    ("settlement_claim", {"amount_total": -5, "amount_insurance": None}, "amount_total",
     "amount_total.not_positive"),
    ("settlement_claim", {"amount_total": 1_000_000.01}, "amount_total", "amount_total.too_large"),
    ("settlement_claim", {"amount_total": 10**400}, "amount_total", "amount_total.too_large"),
    ("settlement_claim", {"amount_insurance": "abc"}, "amount_insurance",
     "amount_insurance.not_a_number"),
    ("settlement_claim", {"amount_insurance": -1}, "amount_insurance",
     "amount_insurance.negative"),
    ("settlement_claim", {"amount_insurance": 12000.51}, "amount_insurance",
     "amount_insurance.exceeds_total"),
    ("hukou_application", {"registered_district": None}, "registered_district",
     "registered_district.required"),
    ("hukou_application", {"registered_district": "other"}, "registered_district",
     "registered_district.invalid"),
    ("hukou_application", {"placement_date": None}, "placement_date", "placement_date.required"),
    ("hukou_application", {"placement_date": "01/01/2020"}, "placement_date",
     "placement_date.not_a_date"),
    ("hukou_application", {"application_date": None}, "application_date",
     "application_date.required"),
    ("hukou_application", {"application_date": "2021-12-31"}, "application_date",
     "application_date.too_early"),
    ("hukou_application", {"application_date": "2019-01-01"}, "application_date",
     "application_date.too_early"),
    ("hukou_application", {"institution": None}, "institution", "institution.required"),
    ("hukou_application", {"institution": "hotel"}, "institution", "institution.invalid"),
    ("hukou_application", {"address": ""}, "address", "address.required"),
    ("hukou_application", {"address": 12}, "address", "address.not_text"),
    ("hukou_application", {"address": "a" * 201}, "address", "address.length"),
    ("infant_finding", {"found_district": "beijing"}, "found_district", "found_district.invalid"),
    ("infant_finding", {"found_on": "2024-02-30"}, "found_on", "found_on.not_a_date"),
    ("orphan_allowance", {"monthly_allowance": 0}, "monthly_allowance",
     "monthly_allowance.not_positive"),
    ("guardian_intervention", {"acted_on": None}, "acted_on", "acted_on.required"),
    ("family_eligibility", {"congenital_disability": True}, "congenital_disability",
     "congenital_disability.not_disabled"),
    ("family_eligibility", {"household_size": 0}, "household_size", "household_size.range"),
    ("assistance_grant", {"amount": None}, "amount", "amount.required_when_granted"),
    ("assistance_grant", {"granted_on": None}, "granted_on", "granted_on.required_when_granted"),
    ("charity_visit", {"circumstance": "bored"}, "circumstance", "circumstance.invalid"),
    ("charity_grant", {"receipt_no": "cf 1"}, "receipt_no", "receipt_no.format"),
    ("school_enrolment", {"attending": None}, "attending", "attending.required"),
    ("school_enrolment", {"school": None}, "school", "school.required"),
    ("school_enrolment", {"grade": 10}, "grade", "grade.out_of_range"),
    ("school_enrolment", {"enrolled_on": None}, "enrolled_on",
     "enrolled_on.required_when_attending"),
    ("school_enrolment", {"enrolled_on": "2026-9-1"}, "enrolled_on", "enrolled_on.not_a_date"),
    ("disability_assessment", {"disability_category": "other"}, "disability_category",
     "disability_category.invalid"),
    ("disability_assessment", {"disability_grade": 5}, "disability_grade",
     "disability_grade.out_of_range"),
    ("disability_assessment", {"stage": "senior"}, "stage", "stage.invalid"),
    ("disability_assessment", {"in_difficulty": "yes"}, "in_difficulty",
     "in_difficulty.not_a_bool"),
    ("dropout_report", {"reason": "lazy"}, "reason", "reason.invalid"),
    ("dropout_report", {"last_attended_on": "2026-11-25"}, "last_attended_on",
     "last_attended_on.after_report"),
    ("dropout_report", {"reported_on": None}, "reported_on", "reported_on.required"),
    ("dropout_report", {"grade": 0}, "grade", "grade.out_of_range"),
    ("return_effort", {"outcome": "maybe"}, "outcome", "outcome.invalid"),
    ("return_effort", {"returned_on": None}, "returned_on",
     "returned_on.required_when_returned"),
    ("return_effort", {"visits": 0}, "visits", "visits.out_of_range"),
    ("education_aid_application", {"family_status": "none"}, "family_status",
     "family_status.not_eligible"),
    ("education_aid_application", {"aid": "university"}, "aid", "aid.invalid"),
    ("education_aid_application", {"academic_year": "2026/27"}, "academic_year",
     "academic_year.format"),
    ("education_aid_application", {"academic_year": "2026-2028"}, "academic_year",
     "academic_year.not_consecutive"),
    ("education_aid_application", {"amount_requested": 0}, "amount_requested",
     "amount_requested.not_positive"),
    ("education_aid_application", {"amount_requested": 20000.01}, "amount_requested",
     "amount_requested.too_large"),
    ("school_place_application", {"stage": "senior_high"}, "stage", "stage.invalid"),
    ("school_place_application", {"residence_district": "beijing"}, "residence_district",
     "residence_district.invalid"),
    ("school_place_application", {"residence_months": -1}, "residence_months",
     "residence_months.out_of_range"),
    ("school_place_application", {"parent_employed": None}, "parent_employed",
     "parent_employed.required"),
    ("proxy_pairing", {"volunteer_code": "v123"}, "volunteer_code", "volunteer_code.format"),
    ("proxy_pairing", {"guardian_consent": False}, "guardian_consent",
     "guardian_consent.not_given"),
    ("proxy_pairing", {"agreed_on": None}, "agreed_on", "agreed_on.required"),
    ("proxy_contact", {"mode": "letter"}, "mode", "mode.invalid"),
    ("proxy_contact", {"contact_date": None}, "contact_date", "contact_date.required"),
    ("proxy_contact", {"concern": "no"}, "concern", "concern.not_a_bool"),
    ("family_search", {"dna_database_searched": False}, "dna_database_searched",
     "dna_database_searched.not_searched"),
    ("family_search", {"rescue_system_searched": None}, "rescue_system_searched",
     "rescue_system_searched.required"),
    ("family_search", {"searched_on": "28.11.2026"}, "searched_on", "searched_on.not_a_date"),
    ("sealed_record", {"record_no": "j3 2027"}, "record_no", "record_no.format"),
    ("sealed_record", {"authority": "psb"}, "authority", "authority.invalid"),
    ("sealed_record", {"sealed_on": "2026-10-02"}, "sealed_on", "sealed_on.before_offence"),
    ("correction_plan", {"term_months": 0}, "term_months", "term_months.out_of_range"),
    ("correction_plan", {"identity_protected": False}, "identity_protected",
     "identity_protected.not_protected"),
    ("correction_plan", {"schooling_or_work": "none"}, "schooling_or_work",
     "schooling_or_work.invalid"),
    ("correction_review", {"progress": "fine"}, "progress", "progress.invalid"),
    ("medical_assistance", {"hospital_code": "clinic"}, "hospital_code", "hospital_code.format"),
    ("medical_assistance", {"treatment_to": "2026-09-30"}, "treatment_to",
     "treatment_to.before_start"),
    ("medical_assistance", {"insurance_paid": 20000.01}, "insurance_paid",
     "insurance_paid.above_costs"),
    ("medical_assistance", {"amount_requested": 8000}, "amount_requested",
     "amount_requested.above_out_of_pocket"),
    ("assistance_approval", {"amount_approved": 6000.01}, "amount_approved",
     "amount_approved.above_request"),
    ("assistance_approval", {"outcome": "maybe"}, "outcome", "outcome.invalid"),
    ("family_application", {"application_date": None}, "application_date",
     "application_date.required"),
    ("family_application", {"applicant_relation": "uncle?"}, "applicant_relation",
     "applicant_relation.invalid"),
    ("family_application", {"applicant_age": "38"}, "applicant_age",
     "applicant_age.not_a_number"),
    ("family_application", {"applicant_age": 15}, "applicant_age", "applicant_age.working_age"),
    ("family_application", {"applicant_age": 66}, "applicant_age", "applicant_age.working_age"),
    ("service_delivery", {"delivered": None}, "delivered", "delivered.required"),
    ("service_delivery", {"delivered": "yes"}, "delivered", "delivered.not_a_bool"),
    ("service_delivery", {"started_on": None, "ended_on": None}, "started_on",
     "started_on.required_when_delivered"),
    ("service_delivery", {"started_on": "2026-02-30"}, "started_on", "started_on.not_a_date"),
    ("service_delivery", {"ended_on": "2026-03-15"}, "ended_on", "ended_on.before_start"),
    ("service_delivery", {"amount": -1}, "amount", "amount.out_of_range"),
    ("service_delivery", {"hours": 2001}, "hours", "hours.out_of_range"),
    ("vocational_referral", {"disability_kind": "other"}, "disability_kind",
     "disability_kind.invalid"),
    ("vocational_referral", {"disability_grade": 5}, "disability_grade",
     "disability_grade.out_of_range"),
    ("vocational_referral", {"age": 13}, "age", "age.not_vocational_age"),
    ("vocational_referral", {"age": 18}, "age", "age.not_vocational_age"),
    ("counselling_session", {"sessions_held": None}, "sessions_held", "sessions_held.required"),
    ("counselling_session", {"sessions_held": 61}, "sessions_held", "sessions_held.out_of_range"),
    ("counselling_session", {"first_on": None}, "first_on", "first_on.required_when_held"),
    ("counselling_session", {"last_on": "2026-03-09"}, "last_on", "last_on.before_first"),
    ("screening_row", {"categories": None}, "categories", "categories.required"),
    ("screening_row", {"categories": "left_behind;orphan"}, "categories", "categories.unknown"),
    ("screening_row", {"risks": "bored"}, "risks", "risks.unknown"),
    ("screening_row", {"birth_date": "2006-05-31", "id_number": None}, "birth_date",
     "birth_date.adult"),
    ("screening_row", {"id_number": WRONG_CHECK}, "id_number", "id_number.check_digit"),
    ("screening_row", {"guardian_name": None}, "guardian_name", "guardian_name.required"),
    ("screening_row", {"guardian_phone": "12"}, "guardian_phone", "guardian_phone.format"),
    ("hotline_report", {"source": "110"}, "source", "source.invalid"),
    ("hotline_report", {"reference": "x y"}, "reference", "reference.format"),
    ("hotline_report", {"received_on": None}, "received_on", "received_on.required"),
    ("hotline_report", {"reporter_phone": "call me"}, "reporter_phone", "reporter_phone.format"),
    ("hotline_report", {"description": "hi"}, "description", "description.length"),
    ("hotline_report", {"street": "Fenghuang"}, "street", "street.format"),
    ("hotline_result", {"outcome": "done"}, "outcome", "outcome.invalid"),
    ("hotline_result", {"acted_on": "2026-02-30"}, "acted_on", "acted_on.not_a_date"),
    ("support_visit", {"visit_date": None}, "visit_date", "visit_date.required"),
    ("support_visit", {"child_seen": 1}, "child_seen", "child_seen.not_a_bool"),
    ("support_visit", {"mood": "happy"}, "mood", "mood.invalid"),
    ("support_visit", {"support_minutes": 4}, "support_minutes", "support_minutes.out_of_range"),
    ("support_visit", {"situation": "ran_away"}, "situation", "situation.invalid"),
]


def refusal_id(case: tuple[str, dict[str, Any], str, str]) -> str:
    suite, changes, _, code = case
    return f"{suite}:{code}:{','.join(f'{k}={v!r}'[:40] for k, v in changes.items())}"


def codes(errors: list[FieldError]) -> list[tuple[str, str]]:
    return [(error.field, error.code) for error in errors]


def load_suite_files() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in SUITES_DIR.glob("*.json")}


# --- The suite files -----------------------------------------------------------------------------


def test_lists_one_suite_per_kind_of_record() -> None:
    assert suite_names() == sorted(VALID)


def test_every_expectation_carries_field_code_and_both_messages() -> None:
    for name, spec in load_suite_files().items():
        declared = spec["meta"]["fields"]
        for expectation in spec["expectations"]:
            meta = expectation["meta"]
            assert set(META_KEYS) <= set(meta), (name, expectation["type"])
            assert all(isinstance(meta[key], str) and meta[key].strip() for key in META_KEYS)
            assert meta["field"] in declared, (name, meta["code"])
            assert meta["code"].startswith(meta["field"] + "."), (name, meta["code"])
            assert any("\u4e00" <= ch <= "\u9fff" for ch in meta["message_zh"]), meta["code"]


def test_no_code_is_used_twice_in_a_suite() -> None:
    for name, spec in load_suite_files().items():
        all_codes = [expectation["meta"]["code"] for expectation in spec["expectations"]]
        assert len(all_codes) == len(set(all_codes)), name


def test_great_expectations_builds_every_expectation_in_every_suite() -> None:
    import great_expectations as gx

    for name, spec in load_suite_files().items():
        # GE logs and drops an expectation it cannot build, so count what it kept.
        suite = gx.ExpectationSuite(**spec)
        assert suite.name == name
        assert len(suite.expectations) == len(spec["expectations"]), name


# --- Valid records -------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", sorted(VALID))
def test_accepts_a_fully_valid_record(suite: str) -> None:
    assert validate_record(suite, dict(VALID[suite])) == []


@pytest.mark.parametrize(("suite", "changes"), [
    ("child_intake", {"id_number": None, "hukou_district": None}),
    ("child_intake", {"id_number": "", "hukou_district": "  "}),
    ("child_intake", {"birth_date": "2006-06-02", "id_number": None}),  # 17 on intake day
    ("child_intake", {"birth_date": "2024-06-01", "id_number": None}),  # born on intake day
    ("child_intake", {"id_number": "11010519491231002X", "birth_date": "1949-12-31",
                      "intake_date": "1960-01-01"}),
    ("child_intake", {"birth_date": date(2010, 3, 15), "intake_date": date(2024, 6, 1)}),
    ("followup_visit", {"notes": None, "child_seen": False}),
    ("followup_visit", {"notes": "n" * 2000}),
    ("settlement_claim", {"amount_insurance": None}),
    ("settlement_claim", {"amount_insurance": 12000.5, "discharge_date": "2024-05-01"}),
    ("settlement_claim", {"amount_total": 1_000_000, "amount_insurance": 0}),
    ("hukou_application", {"application_date": "2022-01-01"}),  # exactly 2 years
    ("settlement_claim", {"unrelated_key": object()}),
    ("school_enrolment", {"attending": False, "enrolled_on": None}),
    ("return_effort", {"outcome": "not_returned", "returned_on": None}),
    ("education_aid_application", {"amount_requested": 20000}),
    ("service_delivery", {"delivered": False, "started_on": None, "ended_on": None}),
    ("service_delivery", {"ended_on": "2026-03-16", "amount": None, "hours": None}),
    ("counselling_session", {"sessions_held": 0, "first_on": None, "last_on": None}),
    ("hotline_report", {"reporter_phone": None, "street": None, "reporter_relation": "anonymous"}),
    ("family_application", {"applicant_age": 16}),
])
def test_accepts_records_on_the_edge_of_the_rules(suite: str, changes: dict[str, Any]) -> None:
    assert validate_record(suite, {**VALID[suite], **changes}) == []


# --- Refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", REFUSALS, ids=[refusal_id(case) for case in REFUSALS])
def test_refuses_a_record_breaking_one_rule_with_that_fields_code_and_the_suites_fixed_text(
    case: tuple[str, dict[str, Any], str, str],
) -> None:
    """One validation a case (each costs Great Expectations tens of milliseconds): the
    field's code, and a refusal's text is the suite's own, with nothing of what was sent."""
    suite, changes, field, code = case
    errors = validate_record(suite, {**VALID[suite], **changes})
    assert codes(errors) == [(field, code)]
    assert_only_the_suites_fixed_text(suite, changes, errors)


def assert_only_the_suites_fixed_text(suite: str, changes: dict[str, Any],
                                      errors: list[FieldError]) -> None:
    """Each error is one of the suite's own (field, code, both messages), and no message holds
    a value that was sent."""
    fixed = [
        {key: expectation["meta"][key] for key in META_KEYS}
        for expectation in load_suite_files()[suite]["expectations"]
    ]
    suite_text = (SUITES_DIR / f"{suite}.json").read_text(encoding="utf-8")
    # A value the suite's own text contains (e.g. "hospital:") proves nothing either way.
    submitted = [str(v) for v in changes.values() if len(str(v).strip()) >= 4]
    submitted = [value for value in submitted if value not in suite_text]
    for error in errors:
        assert error.model_dump() in fixed
        for value in submitted:
            assert value not in error.message and value not in error.message_zh, error.code


def test_refuses_an_id_number_with_a_wrong_check_digit() -> None:
    errors = validate_record("child_intake", {**VALID["child_intake"], "id_number": WRONG_CHECK})
    assert codes(errors) == [("id_number", "id_number.check_digit")]
    assert "check digit" in errors[0].message
    assert "校验" in errors[0].message_zh


def test_refuses_an_id_number_whose_birth_date_differs_from_the_birth_date_field() -> None:
    record = {**VALID["child_intake"], "birth_date": "2010-03-16"}
    assert codes(validate_record("child_intake", record)) == [
        ("id_number", "id_number.birth_date_mismatch"),
    ]


def test_reports_each_missing_required_field_as_required() -> None:
    assert codes(validate_record("child_intake", {})) == [
        ("name", "name.required"),
        ("sex", "sex.required"),
        ("birth_date", "birth_date.required"),
        ("district", "district.required"),
        ("intake_date", "intake_date.required"),
    ]
    assert {code for _, code in codes(validate_record("settlement_claim", {}))} == {
        "hospital_code.required", "invoice_no.required", "admission_date.required",
        "discharge_date.required", "amount_total.required",
    }


def test_gives_field_errors_not_exceptions_for_values_of_the_wrong_type() -> None:
    record = {field: ["a list"] for field in VALID["child_intake"]}
    assert codes(validate_record("child_intake", record)) == [
        ("name", "name.not_text"),
        ("sex", "sex.invalid"),
        ("birth_date", "birth_date.not_a_date"),
        ("id_number", "id_number.not_text"),
        ("district", "district.invalid"),
        ("intake_date", "intake_date.not_a_date"),
        ("hukou_district", "hukou_district.invalid"),
    ]
    record = {field: {"a": 1} for field in VALID["settlement_claim"]}
    assert len(validate_record("settlement_claim", record)) == len(VALID["settlement_claim"])


def test_reports_at_most_one_error_per_field() -> None:
    record = {**VALID["child_intake"], "id_number": "abc", "birth_date": "2030-01-01"}
    assert codes(validate_record("child_intake", record)) == [
        ("birth_date", "birth_date.after_intake"),
        ("id_number", "id_number.format"),
    ]


def test_refuses_an_unknown_suite_and_a_record_that_is_not_a_dict() -> None:
    with pytest.raises(ValueError):
        validate_record("no_such_suite", {})
    with pytest.raises(TypeError):
        validate_record("child_intake", [("name", "x")])  # type: ignore[arg-type]


# --- Submitted values never leave the runner -----------------------------------------------------


def test_the_wrong_id_number_is_in_no_message() -> None:
    errors = validate_record("child_intake", {**VALID["child_intake"], "id_number": WRONG_CHECK})
    text = " ".join(f"{e.message} {e.message_zh}" for e in errors)
    assert errors and WRONG_CHECK not in text and WRONG_CHECK[:17] not in text


def test_a_refused_record_leaves_no_value_in_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    record = {**VALID["child_intake"], "name": "Zhuang Secretvalue " * 5, "id_number": WRONG_CHECK}
    with caplog.at_level(logging.DEBUG):
        assert validate_record("child_intake", record)
    assert "Secretvalue" not in caplog.text and WRONG_CHECK not in caplog.text


def test_validation_prints_no_progress_bars(capfd: pytest.CaptureFixture[str]) -> None:
    validate_record("child_intake", VALID["child_intake"])
    capfd.readouterr()
    validate_record("child_intake", {})
    out, err = capfd.readouterr()
    assert out == "" and err == ""


# --- Cost and neighbours -------------------------------------------------------------------------


def test_a_second_validation_reuses_the_context_and_suites() -> None:
    validate_record("followup_visit", VALID["followup_visit"])
    state = runner._gx_state()
    validate_record("followup_visit", VALID["followup_visit"])
    assert runner._gx_state() is state


def test_building_the_runner_leaves_another_current_gx_context_current(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import great_expectations as gx
    from great_expectations.data_context.data_context.context_factory import project_manager

    try:
        before = project_manager.get_current_project()
    except gx.exceptions.DataContextRequiredError:
        before = None
    theirs = gx.get_context(mode="ephemeral")
    monkeypatch.setattr(runner, "_STATE", None)  # force a rebuild inside this test
    try:
        assert validate_record("followup_visit", VALID["followup_visit"]) == []
        assert project_manager.get_current_project() is theirs
    finally:
        project_manager.set_project(before)


def test_validates_records_from_several_threads_at_once() -> None:
    record = {**VALID["child_intake"], "id_number": WRONG_CHECK}
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: codes(validate_record("child_intake", record)), range(8)))
    assert results == [[("id_number", "id_number.check_digit")]] * 8


# --- Batches: validate_records -------------------------------------------------------------------

# Records accepted on the edge of the rules, as in test_accepts_records_on_the_edge_of_the_rules.
EDGE_ACCEPTS: list[tuple[str, dict[str, Any]]] = [
    ("child_intake", {"id_number": None, "hukou_district": None}),
    ("child_intake", {"birth_date": "2006-06-02", "id_number": None}),
    ("child_intake", {"birth_date": date(2010, 3, 15), "intake_date": date(2024, 6, 1)}),
    ("followup_visit", {"notes": None, "child_seen": False}),
    ("settlement_claim", {"amount_insurance": None}),
    ("settlement_claim", {"amount_total": 1_000_000, "amount_insurance": 0}),
    ("hukou_application", {"application_date": "2022-01-01"}),
]


TWO_ON_ONE_FIELD = {"hospital_code": "clinic:nx-0001", "admitting_hospital": "hospital:nx-0001"}


def mixed_batch(suite: str) -> list[dict[str, Any]]:
    """Valid records, each refusal of the suite, records failing several fields, wrong types."""
    valid = VALID[suite]
    batch = [dict(valid)]
    batch += [{**valid, **changes} for name, changes, _, _ in REFUSALS if name == suite]
    batch += [{**valid, **changes} for name, changes in EDGE_ACCEPTS if name == suite]
    batch += [{}, {field: ["a list"] for field in valid}, {field: {"a": 1} for field in valid}]
    batch.insert(len(batch) // 2, dict(valid))
    if suite == "settlement_claim":  # fails two expectations on hospital_code
        batch.append({**valid, **TWO_ON_ONE_FIELD})
    if suite == "child_intake":
        batch.append({**valid, "id_number": "abc", "birth_date": "2030-01-01"})
        batch.append({**valid, "id_number": WRONG_CHECK, "name": "x" * 65, "sex": None})
    return batch


@pytest.mark.parametrize("suite", sorted(VALID))
def test_a_batch_gets_the_errors_each_record_gets_alone(suite: str) -> None:
    """A refusal case's record was judged alone by its own test (its field's code, and errors
    that are the suite's fixed text, where a code is used once): in the batch it is held to
    the same, without a second validation alone (each costs tens of milliseconds)."""
    def key(record: dict[str, Any]) -> str:  # True == 1 in Python, not in a suite
        return json.dumps(record, default=repr)

    batch = mixed_batch(suite)
    refusals = {key({**VALID[suite], **changes}): (changes, field, code)
                for name, changes, field, code in REFUSALS if name == suite}
    for record, errors in zip(batch, runner.validate_records(suite, batch), strict=True):
        if key(record) not in refusals:
            assert errors == validate_record(suite, record), record
            continue
        changes, field, code = refusals[key(record)]
        assert codes(errors) == [(field, code)], record
        assert_only_the_suites_fixed_text(suite, changes, errors)


def test_a_batch_mixes_valid_and_refused_records_in_their_order() -> None:
    refusals = [(changes, field, code) for name, changes, field, code in REFUSALS
                if name == "child_intake"]
    batch, expected = [], []
    for changes, field, code in refusals:
        batch += [{**VALID["child_intake"], **changes}, dict(VALID["child_intake"])]
        expected += [[(field, code)], []]
    results = runner.validate_records("child_intake", batch)
    assert [codes(errors) for errors in results] == expected
    backwards = runner.validate_records("child_intake", batch[::-1])
    assert [codes(errors) for errors in backwards] == expected[::-1]


def test_a_batch_reports_at_most_one_error_per_field_in_suite_order() -> None:
    record = {**VALID["child_intake"], "id_number": "abc", "birth_date": "2030-01-01"}
    assert [codes(errors) for errors in runner.validate_records("child_intake", [record, {}])] == [
        [("birth_date", "birth_date.after_intake"), ("id_number", "id_number.format")],
        [("name", "name.required"), ("sex", "sex.required"), ("birth_date", "birth_date.required"),
         ("district", "district.required"), ("intake_date", "intake_date.required")],
    ]
    record = {**VALID["settlement_claim"], **TWO_ON_ONE_FIELD}
    assert codes(validate_record("settlement_claim", record)) == [
        ("hospital_code", "hospital_code.format"),
    ]
    assert [codes(errors) for errors in runner.validate_records("settlement_claim", [record])] == [
        [("hospital_code", "hospital_code.format")],
    ]


def test_an_empty_batch_gives_an_empty_list() -> None:
    assert runner.validate_records("child_intake", []) == []
    assert runner.validate_records("settlement_claim", ()) == []


def test_a_batch_refuses_an_unknown_suite_and_records_that_are_not_dicts() -> None:
    with pytest.raises(ValueError):
        runner.validate_records("no_such_suite", [])
    with pytest.raises(TypeError):
        runner.validate_records("child_intake", VALID["child_intake"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="position 1") as raised:
        runner.validate_records("child_intake", [VALID["child_intake"], "Secretvalue"])  # type: ignore[list-item]
    assert "Secretvalue" not in str(raised.value)


@pytest.mark.parametrize("suite", sorted(VALID))
def test_a_batch_refusal_carries_only_the_suites_fixed_text(suite: str) -> None:
    cases = [changes for name, changes, _, _ in REFUSALS if name == suite]
    results = runner.validate_records(suite, [{**VALID[suite], **changes} for changes in cases])
    for changes, errors in zip(cases, results, strict=True):
        assert errors
        assert_only_the_suites_fixed_text(suite, changes, errors)


def test_a_refused_batch_leaves_no_value_in_the_logs_or_in_memory(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import gc

    import pandas as pd

    secret = "Zhuang Secretvalue"
    batch = [VALID["child_intake"], {**VALID["child_intake"], "name": secret, "sex": secret,
                                     "id_number": WRONG_CHECK}]
    with caplog.at_level(logging.DEBUG):
        assert runner.validate_records("child_intake", batch)[1]
        assert validate_record("child_intake", batch[1])
    assert secret not in caplog.text and WRONG_CHECK not in caplog.text
    gc.collect()
    for obj in gc.get_objects():  # GE keeps no DataFrame or Series holding a submitted value
        if isinstance(obj, pd.DataFrame | pd.Series):
            frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
            for column in frame.columns:
                assert not frame[column].astype(str).isin([secret, WRONG_CHECK]).any()


@pytest.mark.parametrize("suite", sorted(VALID))
def test_the_prepared_suite_agrees_with_great_expectations_own_validate(suite: str) -> None:
    # The runner resolves a metric graph it built once; GE's Batch.validate builds its own on
    # every call. Both must fail the same expectations on the same rows.
    state = runner._gx_state()
    frame = runner._frame(suite, mixed_batch(suite))
    with runner._LOCK:
        prepared = runner._run(state, runner._plan(state, suite, runner._ROWS), frame)
        batch = state.batch_definition.get_batch(batch_parameters={"dataframe": frame})
        standard = batch.validate(state.suites[suite], result_format=runner._ROWS)
    assert not standard.success
    assert {
        result.expectation_config.meta["code"]: (result.success, result.result)
        for result in standard.results
    } == {code: (result["success"], result.get("result", {})) for code, result in prepared.items()}


def test_validates_batches_and_records_from_several_threads_at_once() -> None:
    batch = mixed_batch("child_intake")
    expected = [codes(errors) for errors in runner.validate_records("child_intake", batch)]

    def one(n: int) -> list[list[tuple[str, str]]]:
        if n % 2:
            return [codes(validate_record("child_intake", record)) for record in batch[:5]]
        return [codes(errors) for errors in runner.validate_records("child_intake", batch)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, range(8)))
    assert results == [expected if n % 2 == 0 else expected[:5] for n in range(8)]


def test_a_failure_inside_great_expectations_is_raised_without_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import pandas as pd

    state = runner._gx_state()
    frame = pd.DataFrame({"name": ["Zhuang Secretvalue"]})  # none of the suite's other columns
    with caplog.at_level(logging.DEBUG), runner._LOCK, pytest.raises(RuntimeError) as raised:
        runner._run(state, runner._plan(state, "child_intake", runner._ONE), frame)
    assert "Secretvalue" not in str(raised.value) and "Secretvalue" not in caplog.text
    assert raised.value.__cause__ is None and raised.value.__context__ is None
    assert validate_record("child_intake", VALID["child_intake"]) == []  # and it still works
