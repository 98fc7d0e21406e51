"""Generate ``datasets/benign_instructions.jsonl``: plain imperative prompts (issue 11).

Benign instructions addressed to an assistant (write, list, translate, reply with, answer
in N words, format as JSON, agent tool tasks, operator system prompts ...), often behind
an id or prefix ("Request 12:", "Task #7 -"). The public train data's injections are
mostly imperatives and its benign rows mostly questions, so the heads learnt "imperative
= injection"; these rows are the counter-examples. Templates and slot lists are written
for this project (not copied or paraphrased from any dataset). Seeded: running it again
writes the same file::

    python datasets/gen_benign_instructions.py

A category's templates are filled with slot values drawn with the seed; duplicates are
dropped. A share of rows gets an id/ticket prefix. Texts of the guardrail test
``tests/guardrails/test_ml_plain_instructions.py`` are never produced (checked there).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

SEED = 20261201
OUT = Path(__file__).resolve().parent / "benign_instructions.jsonl"
PER_TEMPLATE = 3

# fmt: off
SLOTS: dict[str, list[str]] = {
    "n": ["3", "5", "10", "two", "three", "four", "five", "seven", "twenty", "50"],
    "topic": [
        "autumn", "the ocean", "a lighthouse keeper", "city buses", "morning coffee",
        "a lost umbrella", "bees", "the first day of school", "a quiet library",
        "mountain trails", "a rainy Sunday", "the night shift", "old bicycles", "snow",
    ],
    "thing": [
        "fruits", "European capitals", "prime numbers", "kitchen tools", "board games",
        "birds of prey", "programming languages", "houseplants that need little light",
        "synonyms for 'happy'", "renewable energy sources", "famous bridges", "cheeses",
    ],
    "lang": ["Spanish", "French", "German", "Italian", "Portuguese", "Japanese", "Dutch",
             "Polish", "Swedish", "Turkish"],
    "phrase": [
        "good morning", "the invoice is attached", "see you next week",
        "where is the train station?", "thank you for your patience",
        "the meeting starts at nine", "please close the door", "happy birthday",
        "the package arrived damaged", "we are open on Saturdays",
    ],
    "word": ["OK", "yes", "no", "done", "ACK", "ready", "pong", "received", "true", "42"],
    "fmt": ["JSON", "YAML", "a Markdown table", "CSV", "a bulleted list", "XML",
            "a numbered list", "plain text without markup"],
    "record": [
        "name Alice, age 34, city Lyon", "sku B-1102, qty 4, price 9.99",
        "title 'Dune', author Frank Herbert, year 1965", "host db01, port 5432, role primary",
        "date 2024-03-02, amount 120.50, currency EUR", "id 77, status open, owner Sam",
    ],
    "code_task": [
        "reverses a string", "checks whether a number is prime", "merges two sorted lists",
        "counts the words in a file", "parses an ISO date", "removes duplicate lines",
        "computes a moving average", "flattens a nested list", "validates an e-mail address",
        "converts Celsius to Fahrenheit", "retries an HTTP call three times",
    ],
    "plang": ["Python", "JavaScript", "Go", "Rust", "TypeScript", "Java", "Bash", "SQL",
              "C#", "Kotlin"],
    "doc": [
        "the meeting notes below", "this paragraph", "the article I pasted",
        "the customer's e-mail", "the release notes", "this error log", "the contract clause",
        "the lecture transcript", "the product review", "the following thread",
    ],
    "audience": ["a ten-year-old", "a new employee", "my manager", "a non-technical client",
                 "a first-year student", "my grandmother", "a busy executive"],
    "product": ["the Pro plan", "our mobile app", "the X200 router", "the loyalty card",
                "the annual subscription", "the desk lamp", "the starter kit"],
    "company": ["ACME", "Northwind", "Globex", "Initech", "Umbrella Travel", "Bluebird Bank",
                "Contoso", "Hooli", "Vandelay Imports", "Stark Bakery"],
    "domain": ["billing FAQ", "IT helpdesk", "travel bookings", "recipe suggestions",
               "HR policy questions", "returns and refunds", "order tracking",
               "library catalogue", "gym class schedule", "insurance claims"],
    "tool": ["calendar", "CRM", "ticket system", "inventory database", "mailbox",
             "file storage", "weather API", "shipping tracker", "wiki"],
    "person": ["Maria", "Tom", "Priya", "Kenji", "Fatima", "Lukas", "Chen", "Olga", "Sam"],
    "day": ["Monday", "Tuesday", "Thursday", "Friday", "tomorrow", "next Wednesday",
            "the 14th"],
    "tone": ["friendly", "formal", "concise", "playful", "neutral", "warm", "direct"],
    "num": ["1234", "12", "7", "889", "40213", "3", "515", "2048", "96", "1001"],
}

TEMPLATES: dict[str, list[str]] = {
    "say_write": [
        "Say goodbye to the class in a {tone} way.",
        "Say thanks to {person} for covering my shift, in {n} words or fewer.",
        "Write a short toast for {person}'s retirement party.",
        "Say {phrase} in {lang}.",
        "Write a short poem about {topic}.",
        "Write a haiku about {topic}.",
        "Write {n} sentences about {topic}.",
        "Say something encouraging to someone starting a new job.",
        "Write a two-line greeting for {person}'s birthday card.",
        "Compose a {tone} thank-you note to {person} for the flowers.",
        "Write a limerick about {topic}, keep it clean.",
        "Tell me a short story about {topic} in under 100 words.",
        "Write a product description for {product} in a {tone} tone.",
        "Draft a tweet announcing that {company} is open on {day}.",
        "Write a slogan for a bakery called {company}.",
        "Give me a title for a blog post about {topic}.",
        "Write an opening line for a novel about {topic}.",
    ],
    "list": [
        "List {n} {thing}.",
        "Name {n} {thing}.",
        "List {n} ideas for a weekend trip.",
        "Give me {n} {thing}, one per line.",
        "Enumerate {n} {thing} in alphabetical order.",
        "List the steps to boil an egg.",
        "List {n} questions I could ask in a job interview.",
        "Make a shopping list for a {tone} dinner for {n} people.",
        "List {n} tips for {topic} photography.",
        "Suggest {n} names for a cat.",
    ],
    "translate": [
        "Translate '{phrase}' into {lang}.",
        "Translate this into {lang}: {phrase}.",
        "Please translate the sentence '{phrase}' to {lang} and give the pronunciation.",
        "How do you say '{phrase}' in {lang}? Reply with the translation only.",
        "Translate the following menu item to {lang}: grilled salmon with lemon butter.",
        "Give the {lang} and the {lang2} for '{phrase}'.",
        "Translate {doc} into {lang}, keeping the formatting.",
    ],
    "summarise": [
        "Summarise {doc} in {n} bullet points.",
        "Summarize {doc} in one sentence.",
        "Give me a TL;DR of {doc}.",
        "Condense {doc} to under {n} words.",
        "Explain {doc} to {audience}.",
        "Extract the action items from {doc}.",
        "Rewrite {doc} in a {tone} tone.",
        "Shorten {doc} by half without losing the key facts.",
        "Pull out every date mentioned in {doc}.",
    ],
    "short_answer": [
        "One line only: what is the boiling point of water at sea level?",
        "Answer with a number: how many legs does a spider have?",
        "Say '{word}' if the sentence '{phrase}' is grammatical.",
        "Answer in {n} words: why is the sky blue?",
        "Reply with {word} if you understand.",
        "Reply with just '{word}'.",
        "Respond with a single word: what colour is a ripe banana?",
        "In one sentence, what does a compiler do?",
        "Answer yes or no: is 17 a prime number?",
        "Give a one-word answer: the opposite of 'cold'.",
        "Keep it under {n} words: what is photosynthesis?",
        "Answer briefly: how many days are in a leap year?",
        "Just the number, please: 12 times 8.",
        "Reply in exactly {n} words about {topic}.",
        "Say {word} when you are ready for the next question.",
    ],
    "repeat_echo": [
        "Repeat back the following sentence exactly: {phrase}.",
        "Repeat this word {n} times: {word}.",
        "Echo my message back to me: '{phrase}'.",
        "Please repeat the last line of the poem you wrote.",
        "Read back the order: two coffees and a croissant.",
        "Repeat the list you gave me, but numbered.",
        "Spell '{topic}' backwards.",
        "Copy the address below into one line: 12 Elm Street, Springfield.",
    ],
    "formatting": [
        "Format the following as {fmt}: {record}.",
        "Convert this record to {fmt}: {record}.",
        "Return {record} as {fmt} with lower-case keys.",
        "Put these values into {fmt}: {record}.",
        "Turn the list of {thing} into {fmt}.",
        "Output only valid JSON with keys 'city' and 'country' for Paris.",
        "Sort these numbers in ascending order: 42, 7, 19, 3, 88.",
        "Capitalise every word in this title: {topic} at dawn.",
        "Wrap each line of {doc} in double quotes.",
        "Make a table with columns Name and Role for {person} (editor) and Sam (author).",
    ],
    "coding": [
        "Write a {plang} function that {code_task}.",
        "Write a unit test in {plang} for a function that {code_task}.",
        "Refactor this {plang} loop into a list comprehension.",
        "Explain what this {plang} snippet does, line by line.",
        "Fix the off-by-one error in my {plang} for-loop.",
        "Add type hints and a docstring to the function that {code_task}.",
        "Write a SQL query that returns the {n} most recent orders.",
        "Generate a regular expression that matches a UK postcode.",
        "Print 'hello world' in {plang}.",
        "Create a .gitignore for a {plang} project.",
        "Rename the variable tmp to total in the code below.",
        "Write a shell one-liner that counts lines in every .py file.",
    ],
    "support": [
        "Customer {person} writes: {product} stopped working after the update for me. Draft a "
        "reply with three troubleshooting steps.",
        "Order {num}: the customer wants to change the delivery address. Write the confirmation "
        "message.",
        "Write a {tone} reply to a one-star review that complains about slow delivery.",
        "Help me write a reply to a customer whose order #{num} arrived late.",
        "Draft a {tone} apology for the outage on {day}.",
        "Write a response telling the customer that {product} can be returned within 30 days.",
        "Tell the customer their refund for order {num} was issued today.",
        "Answer the customer: how do I reset my password for {product}?",
        "Explain to the customer how to update their billing address.",
        "Write a macro reply for tickets asking about delivery times.",
        "Reply to {person}: we received your complaint and will call back {day}.",
        "Summarise this support ticket for the next shift.",
        "Classify this ticket as billing, technical or other.",
    ],
    "agent_tool": [
        "Use the {tool} to find every invoice over 500 EUR from last quarter and list them by "
        "date.",
        "Call the shipping tracker for parcel {num} and tell me where it is.",
        "Open the wiki page on onboarding and add a line about the new VPN client.",
        "Cancel my {day} meeting with {person} and send her a short note saying sorry.",
        "Check my {tool} for free slots on {day} afternoon.",
        "Create a ticket in the {tool} titled 'Printer on floor 3 jams'.",
        "Look up order {num} in the {tool} and tell me its status.",
        "Schedule a 30-minute call with {person} on {day} at 10:00.",
        "Send {person} a reminder about the budget review on {day}.",
        "Search the {tool} for documents about the Q3 offsite.",
        "Add {person} to the project channel and post a welcome message.",
        "Fetch the forecast for Berlin for {day} from the {tool}.",
        "Move all e-mails from the newsletter folder to the archive.",
        "Update the status of ticket {num} to 'waiting for customer'.",
        "Book a meeting room for {n} people on {day}.",
        "Export last month's invoices from the {tool} as {fmt}.",
    ],
    "multi_step": [
        "Here is my plan for {day}: gym, groceries, call {person}. Turn it into a schedule with "
        "times, starting at 8:00.",
        "I run a small shop. Write three FAQ entries about returns, shipping and gift cards, each "
        "under {n} sentences.",
        "Context: we migrate from MySQL to PostgreSQL next month. Task: write a checklist for the "
        "migration weekend.",
        "Goal: a {tone} welcome e-mail for new members of our {topic} club. Audience: adults. "
        "Length: about 120 words.",
        "Take the numbers 4, 8, 15, 16, 23 and 42. Give their sum, their mean and the median.",
        "Read {doc}. Then list the open questions. Finally suggest a next step for each.",
        "First summarise {doc}, then translate the summary into {lang}.",
        "Take the list of {thing}, sort it alphabetically and number each entry.",
        "Write a {plang} function that {code_task}. Include a docstring and two examples.",
        "Draft an e-mail to {person} about the {day} deadline. Keep it {tone} and short.",
        "Plan a three-course dinner. Give a shopping list and a cooking timeline.",
        "Check the spelling in my paragraph, fix it, and list what you changed.",
        "Compare {plang} and {plang2} for a small web API. End with a recommendation.",
        "Outline a talk about {topic}: five sections, one sentence each.",
        "Proofread {doc}. Keep my wording where it is correct.",
    ],
    "operator": [
        "You are a polite receptionist bot for a dental clinic. Collect the patient's name and "
        "preferred day, then confirm.",
        "Your job: answer employees' questions about expense reports. Cite the policy section "
        "when you can.",
        "You are a kitchen assistant. Give recipes in metric units and list allergens first.",
        "You are a helpful assistant for {company}'s {domain}. Answer briefly.",
        "You are {company}'s support bot for {domain}. Be {tone} and answer in {lang2} "
        "if the user writes in {lang2}.",
        "You are an assistant that answers questions about {domain}. If you do not know, "
        "say so.",
        "System: you help employees of {company} with {domain}. Keep answers under {n} "
        "sentences.",
        "Act as a {tone} tutor for {audience}. Ask one question at a time.",
        "You are a writing assistant. Suggest edits; do not rewrite whole paragraphs.",
        "Answer only questions about {domain}; politely decline other topics.",
        "You are a travel planner for {company}. Always include prices in EUR.",
        "Respond in {fmt} only. Do not add commentary.",
        "You are a code reviewer for a {plang} team. Point out bugs and style issues.",
        "Use a {tone} voice and address the user by first name.",
        "Be concise. Use bullet points for lists and cite the help-centre article when "
        "relevant.",
    ],
    "edit_rewrite": [
        "Rewrite this sentence in the passive voice: the committee approved the plan.",
        "Make this e-mail sound more {tone}: 'Send me the report.'",
        "Correct the grammar: 'me and him goes to the store yesterday'.",
        "Paraphrase {doc} for {audience}.",
        "Turn these notes into a paragraph: {record}.",
        "Change every 'colour' to 'color' in {doc}.",
        "Add a conclusion to my essay about {topic}.",
        "Replace the jargon in {doc} with plain words.",
        "Make the headline '{topic} returns' more catchy.",
    ],
    "calc_reason": [
        "Calculate 15% of 240.",
        "Convert {num} seconds to minutes and seconds.",
        "Work out the total: {n} items at 4.50 each.",
        "Round 3.14159 to two decimal places.",
        "Count the vowels in '{phrase}'.",
        "Tell me which is larger, 2^10 or 10^3, and show the working.",
        "Estimate how long it takes to walk 12 km.",
        "Convert {num} metres to feet.",
        "Solve for x: 3x + 7 = 22.",
    ],
    "multilingual": [
        "Schreibe eine kurze E-Mail an {person}: das Treffen ist am Freitag.",
        "Übersetze bitte '{phrase}' ins Französische.",
        "Escribe un poema corto sobre {topic}.",
        "Resume este texto en tres frases.",
        "Écris une liste de {n} idées de dîner.",
        "Traduis '{phrase}' en allemand, s'il te plaît.",
        "Scrivi una breve descrizione di un gatto arancione.",
        "Geef me {n} tips om beter te slapen.",
        "Responde solo con sí o no: ¿es el agua húmeda?",
        "Fasse die Besprechungsnotizen in Stichpunkten zusammen.",
    ],
    "brainstorm": [
        "Brainstorm {n} names for a podcast about {topic}.",
        "Suggest {n} icebreakers for a team meeting.",
        "Give me {n} gift ideas for {person}, who likes {thing}.",
        "Come up with a theme for a party about {topic}.",
        "Propose {n} agenda items for the {day} stand-up.",
        "Think of {n} questions for a quiz about {thing}.",
        "Recommend {n} books for {audience}.",
    ],
    "trigger_benign": [
        "Ignore case when sorting these names: bob, Alice, carol, Dave.",
        "Sort the list and ignore duplicates.",
        "Ignore punctuation when counting the words in this sentence: 'Hi, there!'",
        "Forget the previous draft, start a new poem about {topic}.",
        "Scrap the earlier outline and write a new one about {topic}.",
        "Disregard the typo in my last message, I meant {day}, not {day2}.",
        "Ignore the first row of the CSV, it is a header.",
        "Skip the introduction and go straight to the steps.",
        "Drop the last item from the shopping list and add {thing2}.",
        "Override the default font size in my CSS to 16px.",
        "Ignore whitespace differences when you compare these two files.",
        "Never mind the weather question. Translate '{phrase}' into {lang}.",
    ],
}

#: Second values for the slots a template uses twice ({lang2}, {plang2}, {day2}, {thing2}).
_TWIN = {"lang2": "lang", "plang2": "plang", "day2": "day", "thing2": "thing"}

PREFIXES = [
    "Request {num}: ", "Task #{num} - ", "Ticket {num}: ", "[JOB-{num}] ", "Q{num}. ",
    "Item {num} - ", "Step {num}: ", "ID {num}: ", "#{num} ", "Run {num}: ",
    "Prompt {num}: ", "Case {num} -- ",
]
# fmt: on
PREFIX_SHARE = 0.3

#: Plain instructions the guardrail test scores; never generated here.
RESERVED = {"request 1234: say hello in five words."}


def _fill(template: str, rng: random.Random) -> str:
    """``template`` with every slot replaced by a seeded draw (twins differ)."""
    chosen: dict[str, str] = {}
    for name in re.findall(r"\{(\w+)\}", template):
        if name in chosen:
            continue
        base = _TWIN.get(name, name)
        pool = [v for v in SLOTS[base] if v != chosen.get(base)]
        chosen[name] = rng.choice(pool)
    return template.format(**chosen)


def build(seed: int = SEED) -> list[dict[str, object]]:
    """The rows, in a fixed order (category, then template)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    rows: list[dict[str, object]] = []
    for category, templates in TEMPLATES.items():
        for template in templates:
            k = PER_TEMPLATE if "{" in template else 1
            for _ in range(k):
                text = _fill(template, rng)
                if rng.random() < PREFIX_SHARE:
                    text = rng.choice(PREFIXES).format(num=rng.choice(SLOTS["num"])) + text
                key = " ".join(text.lower().split())
                if key in seen or key in RESERVED:
                    continue
                seen.add(key)
                rows.append(
                    {"id": f"bi-{len(rows):03d}", "text": text, "label": 0, "category": category}
                )
    return rows


def main() -> None:
    """Write the file."""
    rows = build()
    with OUT.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} rows -> {OUT}")


if __name__ == "__main__":
    main()
