"""A small hand-written labelled set for the near-duplicate rule (workbench.cache.match).

Written by hand for this project (no external data). ``PARAPHRASES``: pairs that ask
the same thing in other words (a semantic cache SHOULD serve one from the other).
``NEAR_MISSES``: pairs with almost the same wording whose answers differ, each tagged
with what differs (number, name, negation, date, unit, language, other): a cache MUST
NOT serve one from the other. :func:`split` gives the tuning half (even positions: the
threshold is chosen there) and the evaluation half (odd positions: only measured).
"""

from __future__ import annotations

PARAPHRASES: list[tuple[str, str]] = [
    ("What is the capital of France?", "Tell me the capital city of France."),
    ("How do I reset my password?", "What are the steps to reset my password?"),
    ("How do I cancel my subscription?", "What's the way to cancel my subscription?"),
    ("Explain how photosynthesis works.", "Can you explain how photosynthesis works?"),
    ("What is the boiling point of water?", "At what temperature does water boil?"),
    ("How can I track my order?", "Where can I track my order?"),
    ("Summarize the plot of Hamlet.", "Give me a summary of the plot of Hamlet."),
    ("What are the symptoms of the flu?", "What symptoms does the flu cause?"),
    ("How do I change my shipping address?", "How can I update my shipping address?"),
    ("Translate 'good morning' into Spanish.", "How do you say 'good morning' in Spanish?"),
    ("What does HTTP stand for?", "What is HTTP short for?"),
    ("How long does shipping take?", "How long will shipping take?"),
    ("Write a haiku about autumn.", "Compose a haiku about autumn."),
    (
        "What is the difference between a list and a tuple in Python?",
        "How does a list differ from a tuple in Python?",
    ),
    ("How do I sort a list in Python?", "What's the way to sort a list in Python?"),
    ("What is machine learning?", "Can you tell me what machine learning is?"),
    ("Who wrote Pride and Prejudice?", "Who is the author of Pride and Prejudice?"),
    ("How many days are in a leap year?", "A leap year has how many days?"),
    ("What is your refund policy?", "Can you tell me about your refund policy?"),
    ("How do I contact customer support?", "How can I reach customer support?"),
    ("What is the speed of light?", "How fast does light travel?"),
    ("Give me a recipe for pancakes.", "Can you give me a pancake recipe?"),
    ("What is the tallest mountain in the world?", "Which mountain is the tallest in the world?"),
    ("How do I install numpy?", "How can I install numpy?"),
    ("What is the meaning of the word ephemeral?", "What does the word ephemeral mean?"),
    ("Why is the sky blue?", "Why does the sky look blue?"),
    ("How do I delete my account?", "How can I delete my account?"),
    ("What time does the store open?", "When does the store open?"),
    ("What is the population of Canada?", "How many people live in Canada?"),
    ("List the planets in the solar system.", "Name the planets of the solar system."),
    ("What is a black hole?", "Explain what a black hole is."),
    ("How do I make a git commit?", "How can I create a git commit?"),
    ("Is coffee bad for your health?", "Is drinking coffee bad for your health?"),
    ("What are the benefits of exercise?", "What benefits does exercise have?"),
    ("How do I upgrade my plan?", "How can I upgrade my plan?"),
    ("Where is the Eiffel Tower located?", "Where is the Eiffel Tower?"),
    ("What is the GDP of Germany?", "How large is Germany's GDP?"),
    ("Define inflation.", "What is the definition of inflation?"),
    ("How do vaccines work?", "How does a vaccine work?"),
    ("What is the chemical formula of water?", "What's the chemical formula for water?"),
    ("Recommend a good book about history.", "Can you recommend a good history book?"),
    ("How do I apply for a refund?", "What is the process to apply for a refund?"),
    ("Can I pay with PayPal?", "Do you accept PayPal?"),
    ("What is the largest ocean on Earth?", "Which ocean is the largest on Earth?"),
    ("How do I write a for loop in JavaScript?", "How to write a for loop in JavaScript?"),
    ("What causes earthquakes?", "Why do earthquakes happen?"),
    ("Tell me a joke about cats.", "Tell me a cat joke."),
    ("What is the square root of 144?", "What's the square root of 144?"),
    ("How many legs does a spider have?", "A spider has how many legs?"),
    (
        "Explain the theory of relativity in simple terms.",
        "Explain the theory of relativity simply.",
    ),
    ("What is the price of the premium plan?", "How much does the premium plan cost?"),
    ("How do I enable two-factor authentication?", "How can I turn on two-factor authentication?"),
    ("What is the best way to learn Python?", "What's the best way to learn Python?"),
    ("Convert 5 km to miles.", "How many miles is 5 km?"),
    ("Who painted the Mona Lisa?", "Who was the painter of the Mona Lisa?"),
    (
        "What is the freezing point of water in Celsius?",
        "At what temperature in Celsius does water freeze?",
    ),
    ("How do I clear my browser cache?", "How can I clear the cache in my browser?"),
    ("What are the opening hours on Saturday?", "When are you open on Saturday?"),
    ("What does a CPU do?", "What is the function of a CPU?"),
    ("Why is my order late?", "Why hasn't my order arrived yet on time?"),
    ("How do I export my data?", "How can I export my data?"),
    ("Give me three tips for better sleep.", "Share three tips for sleeping better."),
    ("What is the main ingredient in guacamole?", "What is guacamole mainly made of?"),
    ("How do I return an item?", "How can I return an item?"),
    ("What is the distance from the Earth to the Moon?", "How far is the Moon from the Earth?"),
    ("What is Kubernetes used for?", "What do people use Kubernetes for?"),
    ("Is the museum open on Monday?", "Does the museum open on Monday?"),
    ("Write a short poem about the sea.", "Write a brief poem about the sea."),
    (
        "What languages are spoken in Switzerland?",
        "Which languages do people speak in Switzerland?",
    ),
    ("How can I improve my credit score?", "What can I do to improve my credit score?"),
    ("What is an API?", "Explain what an API is."),
    ("How many calories are in a banana?", "How many calories does a banana have?"),
    ("What year did World War 2 end?", "When did World War 2 end?"),
    ("How do I reverse a string in Python?", "What's the way to reverse a string in Python?"),
    ("What is the weather like in London in winter?", "How is the weather in London in winter?"),
    ("Can I change my delivery date?", "Is it possible to change my delivery date?"),
    ("What is the currency of Japan?", "Which currency does Japan use?"),
    ("How do I merge two dictionaries in Python?", "How can I merge two dictionaries in Python?"),
    ("What is the refund status of order 1234?", "What's the status of the refund for order 1234?"),
    ("Summarize this article in two sentences.", "Summarise this article in two sentences."),
]

# (a, b, what differs)
NEAR_MISSES: list[tuple[str, str, str]] = [
    ("Refund order 1234.", "Refund order 1235.", "number"),
    ("What is the capital of France?", "What is the capital of Spain?", "name"),
    ("Is it safe to swim after eating?", "Is it not safe to swim after eating?", "negation"),
    ("Book a flight to Paris on Monday.", "Book a flight to Paris on Tuesday.", "date"),
    ("Convert 5 km to miles.", "Convert 5 miles to km.", "unit"),
    ("How do I reset my password?", "Comment réinitialiser mon mot de passe ?", "language"),
    ("Who is the CEO of Apple?", "Who is the CEO of Microsoft?", "name"),
    ("What is the square root of 144?", "What is the square root of 169?", "number"),
    ("Cancel my order from March 3.", "Cancel my order from March 4.", "number"),
    (
        "What was the weather in Berlin yesterday?",
        "What will the weather be in Berlin tomorrow?",
        "date",
    ),
    ("Does the hotel allow pets?", "Does the hotel not allow pets?", "negation"),
    ("How many calories are in 2 bananas?", "How many calories are in 3 bananas?", "number"),
    ("Translate 'hello' into German.", "Translate 'hello' into Italian.", "name"),
    ("What is 15% of 200?", "What is 20% of 200?", "number"),
    ("How much is 100 dollars in euros?", "How much is 100 euros in dollars?", "unit"),
    ("Who wrote Hamlet?", "Who wrote Macbeth?", "name"),
    ("Set an alarm for 7 am.", "Set an alarm for 8 am.", "number"),
    ("Is the museum open on Sunday?", "Is the museum open on Saturday?", "date"),
    ("What is the population of Canada?", "What is the population of Australia?", "name"),
    ("Should I take ibuprofen with food?", "Should I never take ibuprofen with food?", "negation"),
    ("Ship it to 10 Main Street.", "Ship it to 12 Main Street.", "number"),
    (
        "What is the boiling point of water in Celsius?",
        "What is the boiling point of water in Fahrenheit?",
        "unit",
    ),
    ("What is the tallest building in Dubai?", "What is the tallest building in Shanghai?", "name"),
    ("Schedule the meeting for January 10.", "Schedule the meeting for February 10.", "date"),
    ("Can I return an item after 30 days?", "Can I return an item after 60 days?", "number"),
    ("How do I install numpy?", "How do I uninstall numpy?", "other"),
    (
        "Give me a recipe for pancakes without eggs.",
        "Give me a recipe for pancakes with eggs.",
        "negation",
    ),
    ("What is the GDP of Germany?", "What is the GDP of Japan?", "name"),
    (
        "Transfer 500 USD to my savings account.",
        "Transfer 5000 USD to my savings account.",
        "number",
    ),
    ("How far is the Moon from the Earth?", "How far is Mars from the Earth?", "name"),
    ("What is the weather in London?", "Quel temps fait-il à Londres ?", "language"),
    ("Is coffee bad for your health?", "Is coffee good for your health?", "other"),
    ("Upgrade my plan to the premium tier.", "Downgrade my plan to the basic tier.", "other"),
    (
        "What time does the store open on Friday?",
        "What time does the store close on Friday?",
        "other",
    ),
    ("How many legs does a spider have?", "How many legs does an ant have?", "other"),
    ("Where is order 98765?", "Where is order 98766?", "number"),
    ("What happened in 1989?", "What happened in 1991?", "number"),
    ("Reserve a table for 4 people.", "Reserve a table for 6 people.", "number"),
    ("Who won the World Cup in 2018?", "Who won the World Cup in 2022?", "number"),
    ("Explain Python decorators.", "Explain Java decorators.", "name"),
    ("I can pay by card.", "I cannot pay by card.", "negation"),
    ("My package arrived damaged.", "My package never arrived.", "negation"),
    (
        "What is the distance from Paris to Lyon in km?",
        "What is the distance from Paris to Lyon in miles?",
        "unit",
    ),
    ("Send the report to Alice.", "Send the report to Bob.", "name"),
    ("Book a room for 2 nights.", "Book a room for 3 nights.", "number"),
    ("What is the price of the premium plan?", "What is the price of the basic plan?", "other"),
    ("Write a poem about the sea.", "Escribe un poema sobre el mar.", "language"),
    (
        "What is the interest rate for 12 months?",
        "What is the interest rate for 24 months?",
        "number",
    ),
    ("Remind me on Wednesday.", "Remind me on Thursday.", "date"),
    ("Is the Amazon the longest river?", "Is the Nile the longest river?", "name"),
    ("The payment went through.", "The payment did not go through.", "negation"),
    ("How much does a ticket to Rome cost?", "How much does a ticket to Milan cost?", "name"),
    ("Add 3 kg of flour to the order.", "Add 3 lb of flour to the order.", "unit"),
    ("Who painted the Mona Lisa?", "Who painted The Starry Night?", "name"),
    ("Open a ticket for user 4512.", "Open a ticket for user 4521.", "number"),
    ("Is it legal to drive at 17 in Texas?", "Is it legal to drive at 16 in Texas?", "number"),
    ("What are the symptoms of the flu?", "What are the symptoms of COVID?", "name"),
    ("Can I bring a laptop on the plane?", "Can't I bring a laptop on the plane?", "negation"),
    (
        "What is the refund status of order 1234?",
        "What is the refund status of order 4321?",
        "number",
    ),
    ("Do you ship to Canada?", "Do you ship to Mexico?", "name"),
]


def split() -> dict[str, dict[str, list[tuple[str, str, str]]]]:
    """``{"tune": {...}, "eval": {...}}``, each with ``positives`` and ``negatives``.

    Positives carry the kind ``"paraphrase"``. Even positions tune, odd positions evaluate.
    """
    pos = [(a, b, "paraphrase") for a, b in PARAPHRASES]
    out: dict[str, dict[str, list[tuple[str, str, str]]]] = {}
    for name, parity in (("tune", 0), ("eval", 1)):
        out[name] = {
            "positives": [p for i, p in enumerate(pos) if i % 2 == parity],
            "negatives": [n for i, n in enumerate(NEAR_MISSES) if i % 2 == parity],
        }
    return out
