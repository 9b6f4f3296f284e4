from __future__ import annotations

from pipeline.lib.arabic import arabic_ratio, clean_line, clean_text, match_form, match_form_with_offsets, match_key


def test_clean_text_removes_noise_and_keeps_paragraphs() -> None:
    raw = "الـــرئيس\u200f  قال\u200b:\t«١٤ سبتمبر ٢٠٢٣»\r\n\r\n\r\n\r\nفقرة ثانية ۱۲"
    assert clean_text(raw) == "الرئيس قال: «14 سبتمبر 2023»\n\nفقرة ثانية 12"


def test_presentation_forms_become_letters() -> None:
    assert clean_text("\ufefb\ufe8e") == "لا" + "ا"  # lam-alef ligature and isolated alef


def test_clean_is_idempotent() -> None:
    raw = " بـوتين\u200c  في\u00a0موسكو \n\n\n x "
    assert clean_text(clean_text(raw)) == clean_text(raw)
    assert clean_line("سطر\nثان") == "سطر ثان"


def test_match_form_folds_spelling_variants() -> None:
    assert match_form("أحمد") == match_form("احمد") == match_form("إحمد")
    assert match_form("بیونغ یانغ") == match_form("بيونغ يانغ")  # Persian yeh
    assert match_form("مدرسة") == match_form("مدرسه")
    assert match_form("مصطفى") == match_form("مصطفي")
    assert match_form("أكّد") == "اكد"  # shadda dropped
    assert match_key("  سيرغي   لافـروف ") == match_key("سيرغي لافروف")


def test_match_form_offsets_point_back_into_the_original() -> None:
    text = "قال بـوتيـن، وأكّد لافروف"
    form, offsets = match_form_with_offsets(text)
    assert len(form) == len(offsets)
    start = form.index("بوتين")
    original = text[offsets[start]: offsets[start + len("بوتين") - 1] + 1]
    assert original == "بـوتيـن"


def test_arabic_ratio() -> None:
    assert arabic_ratio("hello") == 0.0
    assert arabic_ratio("مرحبا") == 1.0
    assert 0.4 < arabic_ratio("مرحبا hello") < 0.6
    assert arabic_ratio("123 ...") == 0.0
