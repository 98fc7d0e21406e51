"""Word lists of the near-duplicate second stage (:mod:`workbench.cache._second_stage`).

Plain data: number words, date and time words, units and currencies, negations, opposite
pairs, colours, the capitalised words that are not names, and the function words that a
reworded question may add or drop without changing what it asks.
"""

from __future__ import annotations

NUMBER_WORDS: dict[str, str] = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
NUMBER_WORDS.update({"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70"})
NUMBER_WORDS.update({"eighty": "80", "ninety": "90", "hundred": "100", "thousand": "1000"})
NUMBER_WORDS.update({"million": "1000000", "billion": "1000000000", "dozen": "12"})
NUMBER_WORDS.update({"half": "0.5", "twice": "2", "once": "1", "double": "2", "triple": "3"})

_ORDINALS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
).split()
ORDINAL_WORDS: dict[str, str] = {w: str(i + 1) for i, w in enumerate(_ORDINALS)}
ORDINAL_WORDS |= {f"twenty-{w}": str(21 + i) for i, w in enumerate(_ORDINALS[:9])}
ORDINAL_WORDS |= {"thirtieth": "30", "thirty-first": "31", "fortieth": "40", "fiftieth": "50"}
ORDINAL_WORDS |= {"hundredth": "100", "thousandth": "1000"}
# ordinals are numbers ("the third step" = "step 3"), except "first" ("at first") and
# "second" (a time unit), which count only in a date context (see _dates)
NUMBER_WORDS.update({w: n for w, n in ORDINAL_WORDS.items() if "-" not in w and int(n) > 2})

MONTHS = (
    "january february march april may june july august september october november december"
).split()
MONTH_ABBREVIATIONS: dict[str, str] = {m[:3]: m for m in MONTHS if m != "may"}
MONTH_ABBREVIATIONS |= {"sept": "september"}
WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
WEEKDAY_ABBREVIATIONS: dict[str, str] = {d[:3]: d for d in WEEKDAYS}
WEEKDAY_ABBREVIATIONS |= {"tues": "tuesday", "weds": "wednesday", "thur": "thursday"}
WEEKDAY_ABBREVIATIONS |= {"thurs": "thursday"}
HOLIDAYS = frozenset(
    "christmas xmas easter thanksgiving halloween hanukkah chanukah ramadan diwali eid "
    "passover lent advent pentecost midsummer".split()
)
# "may" is left out: as a modal verb it would split paraphrases ("May I ..." / "Can I ...");
# 3-letter abbreviations ("sun", "sat", "mar", "wed") are left out too: they are words.
# Both count in a date context only (see _dates).
DATE_WORDS: dict[str, str] = {m: m for m in MONTHS if m != "may"} | {"sept": "september"}
DATE_WORDS |= {d: d for d in WEEKDAYS} | {h: h for h in HOLIDAYS} | {"xmas": "christmas"}
DATE_WORDS |= {
    d: d
    for d in "today tomorrow yesterday tonight weekend weekday morning afternoon evening "
    "night dawn dusk sunrise sunset noon midnight midday spring summer autumn winter".split()
}
DATE_WORDS |= {"chanukah": "hanukkah", "nighttime": "night", "daytime": "day"}
DATE_WORDS |= {"today's": "today", "tomorrow's": "tomorrow", "yesterday's": "yesterday"}
DATE_WORDS |= {"tonight's": "tonight"}
PLURAL_DATE_WORDS: dict[str, str] = {f"{d}s": d for d in WEEKDAYS} | {
    "weekends": "weekend",
    "weekdays": "weekday",
    "mornings": "morning",
    "afternoons": "afternoon",
    "evenings": "evening",
    "nights": "night",
}
"""Plural date words: a recurring date ("on Mondays" = "every Monday")."""
DATE_WORDS |= PLURAL_DATE_WORDS  # canonical forms for the slot rule's tokens
TIMES_OF_DAY: dict[str, str] = {"noon": "t:12:00", "midday": "t:12:00", "midnight": "t:00:00"}

PERIODS: dict[str, str] = {
    "day": "day", "days": "day", "week": "week", "weeks": "week", "fortnight": "fortnight",
    "month": "month", "months": "month", "quarter": "quarter", "quarters": "quarter",
    "year": "year", "years": "year", "decade": "decade", "century": "century",
    "semester": "semester", "term": "term", "season": "season", "hour": "hour",
}  # fmt: skip
"""Calendar periods: dates only after a modifier ("next week", "every month")."""
FREQUENCIES: dict[str, str] = {
    "hourly": "hour", "daily": "day", "nightly": "night", "weekly": "week",
    "biweekly": "fortnight", "fortnightly": "fortnight", "monthly": "month",
    "bimonthly": "2 months", "quarterly": "quarter", "yearly": "year", "annual": "year",
    "annually": "year", "biannual": "half year", "semiannual": "half year",
    "semi-annual": "half year", "biennial": "2 years",
}  # fmt: skip
"""Frequency words: "daily" = "every day" = "each day" = "per day"."""
DATE_MODIFIERS: dict[str, str] = {
    "this": "this", "current": "this", "next": "next", "coming": "next", "upcoming": "next",
    "following": "next", "last": "last", "past": "last", "previous": "last", "prior": "last",
    "every": "every", "each": "every", "per": "every",
}  # fmt: skip
"""Words before a date or period that change which one is meant."""
DATE_RELATIONS: dict[str, str] = {
    "before": "before", "after": "after", "by": "by", "until": "until", "till": "until",
    "til": "until", "through": "until", "thru": "until", "since": "since", "from": "from",
    "end": "end", "start": "start", "beginning": "start", "mid": "mid", "middle": "mid",
    "early": "early", "late": "late",
}  # fmt: skip
"""Words just before a date that place an event relative to it ("by Friday")."""
DECADE_WORDS: dict[str, str] = {
    f"{w}ies": str(10 * i)
    for i, w in enumerate("twent thirt fort fift sixt sevent eight ninet".split(), start=2)
}
_FOREIGN_MONTHS = (  # es, fr ("mars" left out: the planet), de, it, pt; "-" = none
    "enero febrero marzo abril mayo junio julio agosto septiembre|setiembre octubre "
    "noviembre diciembre",
    "janvier février|fevrier - avril mai juin juillet août|aout septembre octobre novembre "
    "décembre|decembre",
    "januar februar märz|maerz april mai juni juli august september oktober november dezember",
    "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
    "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",
)
_FOREIGN_DAYS = (  # Monday first
    "lunes martes miércoles|miercoles jueves viernes sábado|sabado domingo",
    "lundi mardi mercredi jeudi vendredi samedi dimanche",
    "montag dienstag mittwoch donnerstag freitag samstag|sonnabend sonntag",
    "lunedì|lunedi martedì|martedi mercoledì|mercoledi giovedì|giovedi venerdì|venerdi "
    "sabato domenica",
)
_FOREIGN_RELATIVE = {
    "today": "hoy aujourd'hui heute oggi hoje",
    "tomorrow": "demain domani amanhã",  # "mañana", "morgen": also "morning"
    "yesterday": "ayer hier gestern ieri ontem",
    "day after tomorrow": "pasado-mañana après-demain übermorgen dopodomani",
}
FOREIGN_DATE_WORDS: dict[str, str] = {"mañana": "mañana", "morgen": "morgen"}
for _lang in _FOREIGN_MONTHS:
    for _month, _forms in zip(MONTHS, _lang.split(), strict=True):
        FOREIGN_DATE_WORDS |= {f: _month for f in _forms.split("|") if f != "-"}
for _lang in _FOREIGN_DAYS:
    for _day, _forms in zip(WEEKDAYS, _lang.split(), strict=True):
        FOREIGN_DATE_WORDS |= {f: _day for f in _forms.split("|")}
for _canon, _forms in _FOREIGN_RELATIVE.items():
    FOREIGN_DATE_WORDS |= {f: _canon for f in _forms.split()}
"""Months, weekdays and relative days of the set's other languages (es, fr, de, pt; it)."""

NOT_NAMES = frozenset(DATE_WORDS) | frozenset(MONTH_ABBREVIATIONS) | {"may"}
NOT_NAMES |= frozenset(WEEKDAY_ABBREVIATIONS) | frozenset(FOREIGN_DATE_WORDS)
"""Capitalised date words: not names (the dates rule compares them)."""

_UNIT_FORMS = {
    "km": "km kms kilometer kilometers kilometre kilometres",
    "mile": "mile miles mi",
    "m": "meter meters metre metres",
    "cm": "cm centimeter centimeters centimetre centimetres",
    "mm": "mm millimeter millimeters millimetre millimetres",
    "ft": "ft foot feet",
    "inch": "inch inches",
    "yard": "yard yards yd",
    "kg": "kg kgs kilogram kilograms kilo kilos",
    "g": "gram grams",
    "mg": "mg milligram milligrams",
    "lb": "lb lbs pound pounds",
    "oz": "oz ounce ounces",
    "stone": "stone stones",
    "l": "liter liters litre litres",
    "ml": "ml milliliter milliliters millilitre millilitres",
    "gallon": "gallon gallons",
    "cup": "cup cups",
    "tbsp": "tbsp tablespoon tablespoons",
    "tsp": "tsp teaspoon teaspoons",
    "celsius": "celsius °c centigrade",
    "fahrenheit": "fahrenheit °f",
    "kelvin": "kelvin",
    "usd": "usd dollar dollars $",
    "eur": "eur euro euros €",
    "gbp": "gbp £ sterling",
    "jpy": "jpy yen ¥",
    "inr": "inr rupee rupees",
    "cny": "cny yuan rmb",
    "chf": "chf franc francs",
    "cad": "cad",
    "aud": "aud",
    "percent": "percent percentage %",
    "ms": "ms millisecond milliseconds",
    "second": "sec secs second seconds",
    "minute": "min mins minute minutes",
    "hour": "hour hours hr hrs",
    "day": "day days",
    "week": "week weeks",
    "month": "month months",
    "year": "year years",
    "kb": "kb kilobyte kilobytes",
    "gb": "gb gigabyte gigabytes",
    "mb": "mb megabyte megabytes",
    "tb": "tb terabyte terabytes",
    "mph": "mph",
    "kmh": "kmh kph",
    "kwh": "kwh",
    "watt": "w watt watts",
    "volt": "v volt volts",
    "calorie": "kcal calorie calories",
}
UNITS: dict[str, str] = {f: canon for canon, forms in _UNIT_FORMS.items() for f in forms.split()}
UNITS |= {"am": "am", "pm": "pm"}  # only after a number ("5 pm"), see BOUND_UNITS
BOUND_UNITS = frozenset("ms second minute hour day week month year am pm".split())
"""Units that count only with a number ("3 days"): alone they are wording ("how many days")."""

NEGATIONS = frozenset(
    "not no never none nobody nothing neither nor nowhere cannot without "
    "cant dont doesnt didnt isnt arent wasnt werent wont wouldnt shouldnt couldnt".split()
)

_OPPOSITES = (
    "left/right up/down buy/sell before/after within/after within/beyond within/outside "
    "increase/decrease enable/disable on/off "
    "open/close upload/download import/export start/stop min/max minimum/maximum "
    "add/remove install/uninstall encrypt/decrypt encode/decode push/pull input/output "
    "north/south east/west upper/lower above/below over/under inside/outside front/back "
    "first/last next/previous next/last early/late earlier/later hot/cold warm/cool "
    "high/low higher/lower highest/lowest more/less most/least faster/slower fast/slow "
    "big/small bigger/smaller largest/smallest large/small long/short longer/shorter "
    "heavy/light cheap/expensive cheaper/pricier cheapest/priciest best/worst better/worse "
    "positive/negative true/false accept/reject allow/deny allow/block win/lose "
    "gain/loss profit/loss income/expense credit/debit deposit/withdraw deposit/withdrawal "
    "borrow/lend import/export arrive/depart arrival/departure inbound/outbound "
    "morning/evening day/night male/female men/women man/woman boy/girl old/new old/young "
    "ascending/descending asc/desc sync/async synchronous/asynchronous public/private "
    "client/server frontend/backend read/write lock/unlock mount/unmount "
    "connect/disconnect subscribe/unsubscribe follow/unfollow join/leave hire/fire "
    "include/exclude inclusive/exclusive internal/external local/remote login/logout "
    "sign-in/sign-out wet/dry raw/cooked sweet/savory sweet/sour soft/hard thick/thin "
    "rise/fall raise/lower gain/lose lighter/darker light/dark dark/bright "
    "white/black beginner/advanced domestic/international single/double "
    "singular/plural odd/even vertical/horizontal clockwise/counterclockwise "
    "add/subtract plus/minus multiply/divide upstream/downstream uppercase/lowercase "
    "start/end beginning/end begin/end start/finish since/until since/till always/sometimes "
    "same/different easy/hard easy/difficult safe/dangerous success/failure pass/fail "
    "allowed/forbidden allowed/prohibited legal/banned maximum/minimum all/none "
    "open/closed opened/closed on/off online/offline"
)
OPPOSITES: dict[str, frozenset[str]] = {}
for _pair in _OPPOSITES.split():
    _x, _y = _pair.split("/")
    OPPOSITES[_x] = OPPOSITES.get(_x, frozenset()) | {_y}
    OPPOSITES[_y] = OPPOSITES.get(_y, frozenset()) | {_x}

COLOURS = frozenset(
    "red blue green yellow orange purple violet pink brown black white grey gray beige "
    "navy teal turquoise maroon burgundy gold golden silver cyan magenta ivory cream "
    "olive lime indigo crimson scarlet khaki tan coral lavender".split()
)

# capitalised words that start a sentence without being a name
COMMON = frozenset(
    "a an the what whats which who whom whose when where why how is are was were be can "
    "could would should will shall do does did please tell give show list explain "
    "describe write summarize summarise translate find make create help let lets i im "
    "my me we our you your it its this that these those there here if in on at for to "
    "of from by with about and or but so as hi hello hey thanks thank ok okay yes no not "
    "any some all every each compare define name provide suggest recommend calculate "
    "convert check say generate draft rewrite fix update add remove get set use "
    "may might must hola bonjour".split()
)

# words a rewording adds or drops freely (a difference in anything else is a new slot)
FUNCTION_WORDS = COMMON | frozenset(
    "am been being has have had having i'm i've i'd it's that's what's there's "
    "just really actually exactly quickly briefly simply possibly kindly maybe "
    "also too very much many quite some any one ones thing things way ways "
    "up out into onto over than then also again still ever even only "
    "someone something anyone anything need needs want wants like would know "
    "us them they their he she his her him mine yours ours me myself "
    "now currently usually typically generally normally already yet basically own "
    "kind sort bit lot lots please thanks exact precise correct proper right way".split()
)

__all__ = [
    "COLOURS",
    "COMMON",
    "BOUND_UNITS",
    "DATE_MODIFIERS",
    "DATE_RELATIONS",
    "DATE_WORDS",
    "DECADE_WORDS",
    "FOREIGN_DATE_WORDS",
    "FREQUENCIES",
    "FUNCTION_WORDS",
    "HOLIDAYS",
    "MONTHS",
    "MONTH_ABBREVIATIONS",
    "NOT_NAMES",
    "NEGATIONS",
    "NUMBER_WORDS",
    "OPPOSITES",
    "ORDINAL_WORDS",
    "PERIODS",
    "PLURAL_DATE_WORDS",
    "TIMES_OF_DAY",
    "UNITS",
    "WEEKDAYS",
    "WEEKDAY_ABBREVIATIONS",
]
