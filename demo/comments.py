"""Survey comments: sentence banks by topic and sentiment, the planted special comments, and their writer."""

from __future__ import annotations

import math

import numpy as np

_PRODUCTS = (
    "trainers", "winter coat", "coffee machine", "garden bench", "phone case", "pair of school shoes", "kettle",
    "duvet set", "pair of headphones", "birthday cake", "bag of dog food", "tin of paint", "desk lamp",
    "pair of jeans", "gift card", "vacuum cleaner", "printer ink", "office chair", "bike helmet",
    "bedside table", "air fryer", "rain jacket", "toaster", "set of towels",
)  # fmt: skip
_STAFF = (
    "Priya", "Tom", "Aisha", "Gareth", "Sophie", "Mo", "Chloe", "Dev", "Hannah", "Callum", "the manager",
    "the lady on the till", "the young lad at customer services", "the delivery driver", "Agnieszka", "Rhys",
)  # fmt: skip
_STORES = (
    "Leeds", "Bristol", "Norwich", "Cardiff", "Newcastle", "Brighton", "Exeter", "York", "Ipswich", "Plymouth",
    "Sheffield", "Cambridge", "Hull", "Swansea",
)  # fmt: skip
_PHONES = ("iPhone", "Samsung", "Pixel", "old Android phone", "iPad")

# Sentences by topic: 0-4 follow SERVICE_DIMENSIONS, 5 is prices and points. No sentence here may contain "crash" or
# "checkout": those words belong to the planted theme alone.
_POSITIVE = (
    (
        "My {product} arrived the day after I ordered it",
        "Everything I ordered turned up on time and in perfect condition",
        "The {product} does exactly what it says",
        "Click & collect order was ready when they said it would be",
        "Second {product} I've bought from you and both have been spot on",
        "Delivery came on the day promised and the driver was careful with my {product}",
    ),
    (
        "{staff} sorted my return in a couple of minutes",
        "Got a reply to my email the same afternoon",
        "No queue at the tills for once",
        "Phoned about my {product} and got straight through",
        "Refund was back in my account within two days",
        "Someone came over to help as soon as I walked in",
    ),
    (
        "{staff} really knew their stuff about the {product}",
        "Felt confident in the advice I was given",
        "{staff} explained the warranty on the {product} clearly",
        "Honest advice, {staff} talked me out of the more expensive {product}",
    ),
    (
        "{staff} went out of their way to help my mum find a {product}",
        "They remembered me from last time, lovely touch",
        "{staff} was so patient with my kids",
        "Really felt like they cared about getting it right",
    ),
    (
        "The {store} store is clean and well laid out",
        "Website is easy to find things on",
        "Love the new layout in {store}",
        "Plenty of parking at the {store} branch",
        "New app is quick and easy to use",
    ),
    (
        "Great value for money",
        "Good deal on the {product} this month",
        "Loyalty points add up quickly",
        "Cheaper than the supermarket for a {product}",
    ),
)
_NEGATIVE = (
    (
        "My {product} arrived {days} days late",
        "Ordered a {product} and got the wrong one, twice",
        "The {product} stopped working after a week",
        "Order never turned up and the tracking said delivered",
        "Half of my click & collect order was missing",
        "Delivery slot was missed with no warning",
        "The {product} came damaged and the box was soaking wet",
    ),
    (
        "Waited {mins} minutes on hold before anyone answered",
        "Nobody replied to my emails for over a week",
        "Only one till open and a massive queue",
        "Still waiting for my refund after {days} days",
        "Asked for help three times in store and gave up",
        "Live chat said someone would get back to me, nobody did",
    ),
    (
        "Staff couldn't answer basic questions about the {product}",
        "Was told three different things by three different people",
        "{staff} clearly had no idea about the returns policy",
        "Got the wrong advice and bought the wrong {product}",
    ),
    (
        "Felt like nobody cared",
        "Treated like an inconvenience at customer services",
        "Not even an apology for the mix-up",
        "{staff} was rude and rolled their eyes at me",
        "My complaint was just brushed off",
    ),
    (
        "The {store} store was a mess with empty shelves everywhere",
        "Toilets at {store} were disgusting",
        "Website is painfully slow on my phone",
        "Parking at {store} is a nightmare",
        "Couldn't find anything, the layout keeps changing",
        "Fitting rooms at {store} were closed again",
    ),
    (
        "Prices have gone up again",
        "The {product} is cheaper online elsewhere",
        "Loyalty points are worth less than they used to be",
        "Delivery charge is far too high for a {product}",
    ),
)
_OPENERS = (
    (
        "Very disappointed.",
        "Not good enough.",
        "Third time this has happened.",
        "Honestly?",
        "Where to start.",
    ),
    ("Mostly fine.", "OK overall.", "Not bad.", "Mixed experience."),
    ("Really happy.", "Brilliant as always.", "Great experience.", "Can't fault it.", "Five stars."),
)
_CLOSERS = (
    ("Will be shopping elsewhere.", "Sort it out.", "Expected better.", "Not impressed.", "Never again."),
    ("Could be better.", "Room for improvement.", "Would probably use again.", "Fine I suppose."),
    ("Will definitely be back.", "Thanks!", "Keep it up.", "Would recommend to friends.", "Thank you!!"),
)
_CONNECTORS = ("but", "although", "however", "though")
_THEME_SENTENCES = (
    "The app crashed at checkout {times} times, gave up in the end",
    "App crashed at checkout again and I lost my whole basket",
    "Every time I get to checkout the app crashes, ended up going to the {store} store instead",
    "app crashed when I pressed pay at checkout, no idea if I've been charged",
    "Tried to use my points but the app crashed at checkout",
    "Since the last update the app crashed at checkout on my {phone} every single time",
    "Checkout keeps crashing in the app, please fix it",
    "The app crashed twice at checkout so I had to ring up to place the order",
)
_FOREIGN = (
    (
        "Commande arrivée en retard et personne ne répond au téléphone.",
        "El pedido llegó tarde y nadie contestó mis correos.",
        "Die Ware war beschädigt und der Kundenservice hat sich nicht gemeldet.",
        "Zamówienie przyszło uszkodzone, bardzo słaba obsługa.",
    ),
    (
        "Produits corrects, mais l'attente en caisse était trop longue.",
        "Buenos precios, pero la tienda estaba muy desordenada.",
        "Gute Preise, aber das Personal war etwas unfreundlich.",
    ),
    (
        "Très bon service, livraison rapide. Merci !",
        "Muy buena atención en la tienda, volveré seguro.",
        "Super Service, die Lieferung kam schon am nächsten Tag.",
        "Gwasanaeth gwych, diolch yn fawr!",
        "Bardzo miła obsługa, polecam.",
    ),
)
_EMOJI = (("😡", "🙄", "👎", "😤"), ("🤷", "😐"), ("😊", "👍", "❤️", "🙌", "⭐⭐⭐⭐⭐"))

# Comments planted once each (when the run has enough comments): (name, file kinds allowed, text template).
SPECIALS = (
    ("french", ("voicebox", "cards", "callcentre"), "Très bon service, livraison rapide. Merci !"),
    ("spanish", ("voicebox", "cards", "callcentre"), "El pedido llegó tarde y nadie contestó mis correos."),
    (
        "german",
        ("voicebox", "cards", "callcentre"),
        "Super Service, die Lieferung kam schon am nächsten Tag.",
    ),
    ("emoji", ("voicebox", "cards", "callcentre"), "{base} 😊👍"),
    ("html_break", ("voicebox",), "{base}<br /><br />Sent from my iPhone"),
    ("script", ("voicebox",), "{base} <script>alert('x')</script>"),
    ("img_file", ("voicebox",), '<img src="file:///etc/passwd"> where is my parcel??'),
    (
        "url",
        ("voicebox", "callcentre"),
        "Same {product} is cheaper here http://cheap-deals.example.net/offer?id=4471 can you price match?",
    ),
    ("url_2", ("voicebox",), "Photos of the damage: http://photos.example.org/u/8812/damaged-box.jpg"),
    ("sql", ("voicebox", "cards"), "'; DROP TABLE survey_responses; --"),
    ("multiline", ("cards", "callcentre"), "{base}\nPS the card machine wasn't working either"),
    ("long", ("voicebox", "callcentre"), "{long}"),
)
SPECIAL_MARKERS = {
    "french": "Très bon service",
    "spanish": "llegó tarde",
    "german": "nächsten Tag",
    "emoji": "😊👍",
    "html_break": "<br />",
    "script": "<script>",
    "img_file": "file:///etc/passwd",
    "url": "http://cheap-deals.example.net",
    "url_2": "http://photos.example.org",
    "sql": "DROP TABLE",
    "multiline": "\nPS the card machine",
    "long": "Let me tell you the whole story",
}


class CommentWriter:
    """Composes comments from sentence banks with slots, using one row of pre-drawn uniforms per comment."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    @staticmethod
    def _pick(options: tuple[str, ...], u: float) -> str:
        return options[min(int(u * len(options)), len(options) - 1)]

    def _fill(self, template: str, u: np.ndarray) -> str:
        return template.format(
            product=self._pick(_PRODUCTS, u[0]),
            staff=self._pick(_STAFF, u[1]),
            store=self._pick(_STORES, u[2]),
            days=2 + int(u[3] * 12),
            mins=15 + int(u[4] * 75),
            times=("two", "three", "four", "five")[int(u[5] * 4)],
            phone=self._pick(_PHONES, u[6]),
        )

    def sentences(self, sentiment: int, low: int, high: int, theme: bool, u: np.ndarray) -> list[str]:
        """Sentences of one comment. sentiment 0 negative, 1 mixed, 2 positive; low/high are topics."""
        end = "!" if u[7] < 0.15 else "."
        if theme:
            main = self._fill(self._pick(_THEME_SENTENCES, u[8]), u) + end
            if sentiment == 2 or (sentiment == 1 and u[9] < 0.7):
                good = self._fill(self._pick(_POSITIVE[high], u[10]), np.roll(u, 3))
                return [f"{good} {self._pick(_CONNECTORS, u[11])} {main[0].lower()}{main[1:]}"]
            return [self._pick(_OPENERS[0], u[13]), main] if u[12] < 0.35 else [main]
        if u[14] < 0.012:  # a customer writing in another language
            return [self._pick(_FOREIGN[sentiment], u[8])]
        if sentiment == 1:
            good = self._fill(self._pick(_POSITIVE[high], u[8]), u)
            bad = self._fill(self._pick(_NEGATIVE[low], u[10]), np.roll(u, 3))
            out = [f"{good} {self._pick(_CONNECTORS, u[11])} {bad[0].lower()}{bad[1:]}{end}"]
        else:
            bank = _POSITIVE if sentiment == 2 else _NEGATIVE
            topic = high if sentiment == 2 else low
            out = [self._fill(self._pick(bank[topic], u[8]), u) + end]
            if u[9] < 0.4:  # a second point, on another topic
                other = int(u[10] * 6) % 6
                if other == topic:
                    other = 5 if topic != 5 else 0
                out.append(self._fill(self._pick(bank[other], u[11]), np.roll(u, 3)) + ".")
        if u[12] < 0.3:
            out.insert(0, self._pick(_OPENERS[sentiment], u[13]))
        if u[15] < 0.45:
            out.append(self._pick(_CLOSERS[sentiment], u[16]))
        return out

    def compose(self, sentiment: int, low: int, high: int, theme: bool, kind: str, u: np.ndarray) -> str:
        parts = self.sentences(sentiment, low, high, theme, u)
        if kind == "voicebox" and len(parts) > 1 and u[17] < 0.15:
            text = ("<br /><br />" if u[18] < 0.25 else "<br />").join(parts)
        elif kind != "voicebox" and len(parts) > 1 and u[17] < 0.04:
            text = "\n".join(parts)
        else:
            text = " ".join(parts)
        if kind == "voicebox" and u[19] < 0.6:
            text = text.replace("&", "&amp;")  # the web form exports HTML-escaped text
        if u[20] < 0.03:
            text = f"{text} {self._pick(_EMOJI[sentiment], u[21])}"
        if u[22] < 0.08:
            text = text.lower()
        elif sentiment == 0 and u[22] > 0.985:
            text = text.upper()
        if u[23] < 0.02:
            text = f"  {text} "  # stray whitespace from the form
        return text

    def special(self, template: str, base: str, u: np.ndarray) -> str:
        long = "Let me tell you the whole story. " + " ".join(
            self._fill(s, u) + "." for bank in _NEGATIVE for s in bank
        )
        long = (long + " ") * max(1, math.ceil(2500 / len(long)))
        return template.format(base=base.rstrip(), long=long.strip(), product=self._pick(_PRODUCTS, u[0]))
