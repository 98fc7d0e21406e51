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

MONTHS = (
    "january february march april may june july august september october november december"
).split()
# "may" is left out: as a modal verb it would split paraphrases ("May I ..." / "Can I ...")
DATE_WORDS: dict[str, str] = {m: m for m in MONTHS if m != "may"}
DATE_WORDS |= {m[:3]: m for m in MONTHS if m != "may"} | {"sept": "september"}
DATE_WORDS |= {
    d: d
    for d in "monday tuesday wednesday thursday friday saturday sunday today tomorrow "
    "yesterday tonight weekend weekday weekdays morning afternoon evening night noon "
    "midnight midday spring summer autumn winter christmas easter".split()
}
DATE_WORDS |= {"mon": "monday", "tue": "tuesday", "wed": "wednesday", "thu": "thursday"}
DATE_WORDS |= {"fri": "friday", "sat": "saturday", "sun": "sunday", "weekends": "weekend"}
DATE_WORDS |= {"mornings": "morning", "evenings": "evening", "nights": "night"}

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
    "add/subtract plus/minus multiply/divide upstream/downstream uppercase/lowercase"
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
    "hola bonjour".split()
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
    "DATE_WORDS",
    "FUNCTION_WORDS",
    "MONTHS",
    "NEGATIONS",
    "NUMBER_WORDS",
    "OPPOSITES",
    "UNITS",
]
