"""The second stage's date and time facts (workbench.cache._dates): for every form, a pair
that differs only in the date is rejected, and a rewording that keeps it is accepted."""

from __future__ import annotations

import pytest

from workbench.cache._dates import date_facts
from workbench.cache.match import rejecting_rule, second_stage

# (form, a, b): a and b differ only in the date or time; the dates rule alone rejects them
DIFFERENT = [
    ("iso", "Show orders placed on 2024-03-15.", "Show orders placed on 2024-03-16."),
    ("iso datetime", "Run the job at 2024-03-15T17:00", "Run the job at 2024-03-15T18:00"),
    ("slashed", "Is the office open on 03/15/2024?", "Is the office open on 03/16/2024?"),
    ("dotted", "Termin am 15.03.2024 bestätigen", "Termin am 16.03.2024 bestätigen"),
    ("month name", "What happened in March?", "What happened in April?"),
    ("day month", "Pay the rent by 5 June.", "Pay the rent by 5 July."),
    ("month day", "Pay the rent by June 5.", "Pay the rent by July 5."),
    ("abbreviation", "Is the store open on Dec 24?", "Is the store open on Jan 24?"),
    ("may", "Book it for May 3.", "Book it for June 3."),
    ("ordinal digits", "Meet on the 3rd of May.", "Meet on the 4th of May."),
    ("ordinal words", "Meet on the third of May.", "Meet on the fourth of May."),
    ("weekday", "Is the museum open on Sunday?", "Is the museum open on Saturday?"),
    ("weekday abbreviation", "Deliver on Sat, please.", "Deliver on Sun, please."),
    ("relative day", "Will it rain tomorrow?", "Will it rain today?"),
    (
        "day after tomorrow",
        "Book a table for tomorrow.",
        "Book a table for the day after tomorrow.",
    ),
    ("next / this", "Is the gym open this Monday?", "Is the gym open next Monday?"),
    ("this / next week", "What is on the agenda this week?", "What is on the agenda next week?"),
    ("last week / month", "Show my spending for last week.", "Show my spending for last month."),
    ("this / last year", "How much did I earn this year?", "How much did I earn last year?"),
    ("recurring", "Is the market open on Mondays?", "Is the market open this Monday?"),
    ("frequency", "How much should I save weekly?", "How much should I save every month?"),
    ("quarter", "Show revenue for Q3.", "Show revenue for the fourth quarter."),
    ("half", "Plan the goals for H1.", "Plan the goals for the second half."),
    ("season", "Is Japan nice to visit in spring?", "Is Japan nice to visit in autumn?"),
    ("fall", "Can I plant tulips in the fall?", "Can I plant tulips in the spring?"),
    ("holiday", "Are you open on Easter?", "Are you open on Thanksgiving?"),
    ("am / pm", "Set an alarm for 5pm.", "Set an alarm for 5am."),
    ("24-hour", "Is the pharmacy open at 17:00?", "Is the pharmacy open at 17:30?"),
    ("noon / midnight", "Does the shop close at noon?", "Does the shop close at midnight?"),
    ("o'clock", "Call me at five o'clock.", "Call me at half past five."),
    ("part of day", "Is it better to run in the morning?", "Is it better to run at night?"),
    ("decade", "What music was popular in the 1980s?", "What music was popular in 1980?"),
    (
        "decade words",
        "What music was popular in the eighties?",
        "What music was popular in the nineties?",
    ),
    ("century", "Who ruled France in the 18th century?", "Who ruled France in the 19th century?"),
    ("century words", "Name an eighteenth-century poet.", "Name a nineteenth-century poet."),
    ("era", "What happened in 44 BC?", "What happened in AD 44?"),
    ("ago", "The invoice was sent 3 days ago.", "The invoice will be sent in 3 days."),
    ("by / after", "Can you deliver it by Friday?", "Can you deliver it after Friday?"),
    ("end / start", "Cancel my plan at the end of June.", "Cancel my plan at the start of June."),
    ("nth weekday", "Is the meeting on the first Monday?", "Is the meeting on the second Monday?"),
    ("spanish", "¿Abre la tienda el lunes?", "¿Abre la tienda el martes?"),
    ("german", "Ist das Museum heute geöffnet?", "Ist das Museum gestern geöffnet?"),
    ("french", "Le magasin ouvre-t-il en juillet ?", "Le magasin ouvre-t-il en août ?"),
]


@pytest.mark.parametrize(("form", "a", "b"), DIFFERENT, ids=[f for f, _, _ in DIFFERENT])
def test_a_different_date_is_rejected_by_the_dates_rule(form: str, a: str, b: str) -> None:
    assert date_facts(a) != date_facts(b), form
    assert rejecting_rule(a, b, ["dates"]) == "dates"
    assert rejecting_rule(b, a, ["dates"]) == "dates"
    assert not second_stage(a, b)


def test_a_different_year_is_rejected_by_the_numbers_rule() -> None:
    a, b = "Who won the World Cup in 2014?", "Who won the World Cup in 2018?"
    assert rejecting_rule(a, b) == "numbers"


# (form, a, b): the same question reworded, the same date written the same or another way
SAME = [
    ("iso / month day", "Show orders from 2024-03-15.", "List the orders from 2024-03-15, please."),
    ("day month order", "Is the deadline March 15?", "Is the deadline on the 15th of March?"),
    (
        "ordinal word / digits",
        "Is the deadline on the fifteenth of March?",
        "Is March 15th the deadline?",
    ),
    ("abbreviation", "Is the store open on Dec 24?", "Is the shop open on December 24?"),
    ("may", "Can I book it for 3 May?", "Could I book it for May 3?"),
    ("weekday", "Is the museum open on Sunday?", "Can I visit the museum on Sunday?"),
    ("relative", "Will it rain tomorrow?", "Is rain expected tomorrow?"),
    ("next", "Is the gym open next Monday?", "Will the gym be open next Monday?"),
    ("recurring", "Is the market open on Mondays?", "Is the market open every Monday?"),
    ("frequency", "How much protein should I eat daily?", "How much protein should I eat per day?"),
    ("twice a day", "Should I brush twice a day?", "Should I brush twice daily?"),
    ("quarter", "Show revenue for Q3.", "Show the revenue for the third quarter."),
    ("past / last", "Show my spending for the past month.", "Show what I spent last month."),
    ("season", "Is Japan nice in autumn?", "Is Japan worth visiting in the fall?"),
    ("time", "Set an alarm for 5pm.", "Set an alarm for 5 p.m., please."),
    ("decade", "What music was popular in the 1980s?", "Which music was popular during the 1980s?"),
    (
        "century",
        "Who ruled France in the 18th century?",
        "Who was ruling France in the eighteenth century?",
    ),
    ("holiday", "Are you open on Christmas?", "Is the store open on Christmas?"),
    ("by", "Can you deliver it by Friday?", "Could it be delivered by Friday?"),
    ("words that only look like dates", "May I see the sun?", "Can I see the sun?"),
    ("bare period", "How many days does a cold last?", "How long does a cold usually last?"),
]


@pytest.mark.parametrize(("form", "a", "b"), SAME, ids=[f for f, _, _ in SAME])
def test_a_rewording_that_keeps_the_date_is_accepted(form: str, a: str, b: str) -> None:
    assert date_facts(a) == date_facts(b), (form, date_facts(a), date_facts(b))
    assert second_stage(a, b), rejecting_rule(a, b)


def test_the_same_time_in_other_digits_is_still_refused_by_numbers() -> None:
    # the dates rule agrees, but the numbers rule compares the digits (conservative)
    for a, b in [
        ("Is the pharmacy open at 5:30 pm?", "Is the pharmacy open at 17:30?"),
        ("Does the shop close at noon?", "Does the shop close at 12 pm?"),
    ]:
        assert date_facts(a) == date_facts(b)
        assert rejecting_rule(a, b) == "numbers"


def test_known_facts() -> None:
    assert date_facts("next Monday at 5pm") == {"rel:next:monday", "t:17:00"}
    assert date_facts("File taxes before April 15, 2024") == {
        "d:april-15", "y:2024", "before d:april-15", "before y:2024",
    }  # fmt: skip
    assert date_facts("in the 1990s") == {"decade:1990"}
    assert date_facts("quarter to six") == {"t~5:45"}
    assert date_facts("the day after tomorrow") == {"day after tomorrow"}
    assert date_facts("How many days? Sun damage. May I?") == frozenset()
