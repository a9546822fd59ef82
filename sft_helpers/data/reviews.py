"""The bundled review-sentiment data set: a small compositional grammar of product reviews.

Each review is built from clauses whose polarity is known (+1 positive, 0 neutral, -1
negative). Negation is written into the phrase and its polarity flipped; the label of the
whole review then follows the rules a human reader applies:

* one clause, or clauses that agree: their polarity;
* contrast: the main clause wins ("great screen, but the battery died" is negative; in
  "it works, although the lid is flimsy" the clause after "although" is the minor one);
* a closing verdict ("Overall, I'd recommend it.") wins over what came before;
* good and bad side by side without a winner ("pros ... cons ...", "X is great and Y is
  awful"), or only lukewarm words: ``mixed``.

Words, products and connectives are split into pools: training examples use only the
``train`` pool; about half of the validation and test examples also draw from a pool held
out for that split alone, so each split measures generalisation to unseen words.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sft_helpers.data.noise import typo

LABELS = ("negative", "mixed", "positive")
SIZES = {"train": 3000, "validation": 500, "test": 500}
METADATA = ("negation", "contrast", "intensifier", "unseen_words", "noise")

# Each pool: train words, then words held out for validation only, then for test only.
Pool = dict[str, list]

ADJECTIVES: dict[int, Pool] = {
    1: {
        "train": ["good", "great", "excellent", "fantastic", "amazing", "solid", "impressive", "wonderful",
                  "reliable", "sturdy", "comfortable", "sharp", "nice", "lovely", "perfect", "outstanding",
                  "brilliant", "terrific", "awesome", "fast", "quiet", "superior", "handy", "pleasant"],
        "validation": ["superb", "stellar", "phenomenal", "fabulous"],
        "test": ["flawless", "exceptional", "marvelous", "splendid", "first-rate", "magnificent", "exquisite",
                 "sublime", "dazzling", "top-notch"],
    },
    -1: {
        "train": ["bad", "terrible", "awful", "poor", "horrible", "tacky", "flimsy", "useless", "disappointing",
                  "slow", "noisy", "weak", "annoying", "uncomfortable", "fragile", "faulty", "dreadful",
                  "unreliable", "clunky", "inferior", "frustrating", "worthless"],
        "validation": ["lousy", "pathetic", "subpar", "dismal"],
        "test": ["abysmal", "atrocious", "shoddy", "woeful", "appalling", "crummy", "deplorable", "rickety",
                 "defective", "miserable"],
    },
    0: {
        "train": ["okay", "fine", "average", "acceptable", "decent", "adequate", "so-so", "ordinary", "passable",
                  "fair", "standard"],
        "validation": ["middling", "unremarkable"],
        "test": ["serviceable", "unexceptional", "tolerable", "run-of-the-mill", "workable"],
    },
}  # fmt: skip

INTENSIFIERS: Pool = {
    "train": ["very", "really", "extremely", "incredibly", "super", "so", "truly", "pretty", "quite", "totally"],
    "validation": ["remarkably", "awfully"],
    "test": ["insanely", "exceedingly", "ridiculously", "unbelievably"],
}  # fmt: skip

# Verb phrases: (text, polarity, contains a negation). "{n}" is filled with a small number.
VERB_PHRASES: Pool = {
    "train": [
        ("works like a charm", 1, False), ("is worth every penny", 1, False), ("exceeded my expectations", 1, False),
        ("holds up well", 1, False), ("does exactly what it promises", 1, False), ("has never let me down", 1, True),
        ("never stopped working", 1, True), ("has had no issues at all", 1, True), ("feels premium", 1, False),
        ("made my life easier", 1, False), ("still works perfectly after {n} months", 1, False),
        ("stopped working after {n} days", -1, False), ("fell apart after a month", -1, False),
        ("keeps disconnecting", -1, False), ("is a waste of money", -1, False), ("broke on the first day", -1, False),
        ("did not last a week", -1, True), ("does not hold a charge", -1, True), ("is not worth the money", -1, True),
        ("didn't live up to the hype", -1, True), ("never worked properly", -1, True), ("overheats constantly", -1, False),
        ("does the job", 0, False), ("gets the job done", 0, False), ("works as described", 0, False),
        ("is what you would expect for the price", 0, False), ("doesn't do anything special", 0, True),
    ],
    "validation": [
        ("is a real gem", 1, False), ("has been rock solid", 1, False), ("is a lemon", -1, False),
        ("quit on me after {n} days", -1, False), ("is middle of the road", 0, False),
    ],
    "test": [
        ("blew me away", 1, False), ("is a joy to use", 1, False), ("never skips a beat", 1, True),
        ("gave up the ghost after {n} weeks", -1, False), ("is a total dud", -1, False), ("went kaput", -1, False),
        ("can't even handle the basics", -1, True), ("gets by", 0, False), ("is neither here nor there", 0, True),
    ],
}  # fmt: skip

# Feelings about an aspect: (template, polarity, negation); "{x}" is "it" or "the <aspect>".
FEELINGS: Pool = {
    "train": [
        ("I love {x}", 1, False), ("I really like {x}", 1, False), ("I'm happy with {x}", 1, False),
        ("I can't complain about {x}", 1, True), ("I have no complaints about {x}", 1, True),
        ("I hate {x}", -1, False), ("I regret buying {x}", -1, False), ("I'm disappointed with {x}", -1, False),
        ("I don't like {x}", -1, True), ("I'm not happy with {x}", -1, True), ("I can't stand {x}", -1, True),
        ("I don't love {x}", -1, True), ("I have mixed feelings about {x}", 0, False),
        ("I'm not sure what to think of {x}", 0, True),
    ],
    "validation": [("I adore {x}", 1, False), ("I'm fed up with {x}", -1, False)],
    "test": [("I'm smitten with {x}", 1, False), ("I'm thrilled with {x}", 1, False),
             ("I despise {x}", -1, False), ("I'm sick of {x}", -1, False), ("I'm lukewarm about {x}", 0, False)],
}  # fmt: skip

# Closing verdicts: (text, polarity, negation).
VERDICTS: Pool = {
    "train": [
        ("I'd recommend it", 1, False), ("I would buy it again", 1, False), ("five stars", 1, False),
        ("four stars", 1, False), ("highly recommended", 1, False), ("worth it", 1, False),
        ("I would not recommend it", -1, True), ("I'm returning it", -1, False), ("one star", -1, False),
        ("two stars", -1, False), ("save your money", -1, False), ("not worth it", -1, True),
        ("three stars", 0, False), ("it's a mixed bag", 0, False), ("I'm on the fence", 0, False),
        ("it's okay for the price", 0, False), ("nothing to write home about", 0, True),
    ],
    "validation": [("money well spent", 1, False), ("buyer beware", -1, False), ("take it or leave it", 0, False)],
    "test": [("a keeper", 1, False), ("I cannot recommend it enough", 1, True), ("steer clear", -1, False),
             ("a total letdown", -1, False), ("it's hit and miss", 0, False)],
}  # fmt: skip

# Products with their aspects (aspect, is plural); held-out products bring new aspect words.
PRODUCTS: Pool = {
    "train": [
        ("phone", [("screen", 0), ("battery", 0), ("camera", 0), ("speaker", 0), ("charger", 0)]),
        ("laptop", [("keyboard", 0), ("screen", 0), ("battery", 0), ("trackpad", 0), ("fan", 0)]),
        ("headset", [("sound", 0), ("microphone", 0), ("ear cushions", 1), ("cable", 0), ("bass", 0)]),
        ("blender", [("motor", 0), ("lid", 0), ("jar", 0), ("blades", 1)]),
        ("coffee maker", [("carafe", 0), ("filter", 0), ("timer", 0), ("coffee", 0)]),
        ("backpack", [("straps", 1), ("zippers", 1), ("pockets", 1), ("fabric", 0)]),
        ("vacuum cleaner", [("suction", 0), ("hose", 0), ("brush", 0), ("battery", 0)]),
        ("kettle", [("handle", 0), ("lid", 0), ("switch", 0)]),
        ("desk chair", [("armrests", 1), ("cushion", 0), ("wheels", 1), ("backrest", 0)]),
        ("smartwatch", [("strap", 0), ("display", 0), ("battery", 0), ("heart rate sensor", 0)]),
        ("tablet", [("screen", 0), ("speakers", 1), ("stylus", 0), ("battery", 0)]),
        ("monitor", [("colors", 1), ("stand", 0), ("brightness", 0), ("panel", 0)]),
        ("printer", [("ink", 0), ("paper tray", 0), ("print quality", 0), ("driver", 0)]),
        ("toaster", [("slots", 1), ("dial", 0), ("crumb tray", 0)]),
        ("camera", [("lens", 0), ("autofocus", 0), ("viewfinder", 0), ("battery", 0)]),
        ("router", [("range", 0), ("signal", 0), ("app", 0), ("antennas", 1)]),
        ("microwave", [("turntable", 0), ("buttons", 1), ("door", 0)]),
        ("tent", [("poles", 1), ("zipper", 0), ("rain fly", 0)]),
    ],
    "validation": [
        ("air fryer", [("basket", 0), ("thermostat", 0), ("nonstick coating", 0)]),
        ("e-reader", [("e-ink display", 0), ("page buttons", 1), ("backlight", 0)]),
    ],
    "test": [
        ("drone", [("propellers", 1), ("gimbal", 0), ("remote", 0), ("flight time", 0)]),
        ("projector", [("bulb", 0), ("throw distance", 0), ("focus ring", 0)]),
        ("electric scooter", [("brakes", 1), ("throttle", 0), ("deck", 0), ("tires", 1)]),
        ("sewing machine", [("bobbin", 0), ("pedal", 0), ("needle", 0)]),
        ("espresso machine", [("steam wand", 0), ("portafilter", 0), ("grinder", 0)]),
        ("treadmill", [("belt", 0), ("incline", 0), ("console", 0)]),
    ],
}  # fmt: skip

GENERIC_ASPECTS = [("price", 0), ("build quality", 0), ("design", 0), ("customer service", 0),
                   ("instructions", 1), ("packaging", 0), ("warranty", 0)]  # fmt: skip

# Contrast connectives after which the second clause is the main one.
SECOND_WINS: Pool = {
    "train": ["{a}, but {b}", "{a}. But {b}", "{a}; however, {b}", "{a}. However, {b}", "{a}, yet {b}",
              "{a}. Still, {b}", "Although {a}, {b}", "Even though {a}, {b}", "While {a}, {b}"],
    "validation": ["{a}. Nonetheless, {b}", "{a}. Even so, {b}"],
    "test": ["{a}. That said, {b}", "{a}. Having said that, {b}", "Granted, {a}, but {b}"],
}  # fmt: skip
# ... and after which the first clause is the main one.
FIRST_WINS: Pool = {
    "train": ["{a}, although {b}", "{a}, even though {b}", "{a}, though {b}"],
    "validation": ["{a}, albeit {b}"],
    "test": ["{a}, notwithstanding that {b}", "{a}, if {b}"],
}  # fmt: skip

OPENERS = ["Bought this {product} for my {who}.", "Got this {product} last week.", "Update after {n} weeks:",
           "This is my second {product}.", "Ordered it on sale.", "Arrived on time.", "Used it every day so far.",
           "Long time customer here.", "Gift for my {who}."]  # fmt: skip
WHO = ["son", "daughter", "wife", "husband", "mom", "dad", "office", "dorm room", "sister", "brother"]
OVERALL = ["Overall, {v}.", "All in all, {v}.", "In the end, {v}.", "Bottom line: {v}.", "Verdict: {v}."]
NUMBERS = ["two", "three", "four", "five", "six", "ten", "2", "3", "4", "6"]


@dataclass
class Clause:
    """A piece of review text with its polarity and the phenomena it contains."""

    text: str
    polarity: int
    flags: set[str] = field(default_factory=set)


class _Picker:
    """Draws words for one example: from the train pool, or from the split's held-out pool."""

    def __init__(self, rng: random.Random, split: str, held_out_rate: float):
        self.rng = rng
        self.split = split
        self.held_out_rate = held_out_rate
        self.used_held_out = False
        self.parts: list[str] = []  # the constructions used, for counting distinct patterns

    def pick(self, pool: Pool, where=None):
        """A random entry of ``pool`` (filtered by ``where``), held out with the set rate."""
        rng = self.rng
        candidates = [x for x in pool["train"] if where is None or where(x)]
        if self.split != "train" and rng.random() < self.held_out_rate:
            held = [x for x in pool[self.split] if where is None or where(x)]
            if held:
                self.used_held_out = True
                candidates = held
        return rng.choice(candidates)


_COPULAS = {0: ("is", "isn't", "is not"), 1: ("are", "aren't", "are not")}
_COPULAS_PAST = {0: ("was", "wasn't", "was not"), 1: ("were", "weren't", "were not")}


def _adjective(p: _Picker, polarity: int, flags: set[str], intensify: bool) -> str:
    adj = p.pick(ADJECTIVES[polarity])
    if intensify and polarity != 0:
        flags.add("intensifier")
        return f"{p.pick(INTENSIFIERS)} {adj}"
    return adj


def _copula_clause(p: _Picker, subject: str, plural: int, polarity: int) -> Clause:
    """'the battery is (not) (very) good' with every supported negation."""
    rng = p.rng
    flags: set[str] = set()
    negate = polarity != 0 and rng.random() < 0.25
    base = -polarity if negate else polarity
    # "isn't very bad" reads oddly: intensify a negated adjective only when it is positive.
    adj = _adjective(p, base, flags, intensify=rng.random() < 0.3 and not (negate and base < 0))
    is_, isnt, is_not = (_COPULAS if rng.random() < 0.7 else _COPULAS_PAST)[plural]
    p.parts.append("copula-neg" if negate else "copula")
    if not negate:
        verb = rng.choice([is_, is_, is_, "feel" if plural else "feels", "seem" if plural else "seems"])
        return Clause(f"{subject} {verb} {adj}", polarity, flags)
    flags.add("negation")
    # Every form keeps the flipped reading clear ("not exactly bad" would be lukewarm, not positive).
    forms: Pool = {
        "train": [f"{isnt} {adj}", f"{is_not} {adj}", f"{is_not} {adj} at all", f"{is_} far from {adj}",
                  f"{is_} never {adj}"] + ([f"{is_} not exactly {adj}"] if base > 0 else []),
        "validation": [f"{is_} by no means {adj}", f"{is_} nowhere near {adj}"],
        "test": [f"{is_} anything but {adj}", f"{is_} hardly {adj}", f"{is_} scarcely {adj}"],
    }  # fmt: skip
    form = p.pick(forms)
    p.parts.append(form.replace(adj, "ADJ").replace(is_, "BE").replace(isnt, "BE-NT"))
    return Clause(f"{subject} {form}", polarity, flags)


def _subject(p: _Picker, product: tuple, allow_plural: bool = True, generic: bool = False) -> tuple[str, int]:
    """'the battery', 'this phone' or 'it', with its grammatical number.

    ``generic`` also allows aspects of any product ("the price", "the warranty"), which
    only suit an adjective ("the warranty is poor", not "the warranty fell apart").
    """
    rng = p.rng
    r = rng.random()
    if r < 0.2:
        return "it", 0
    if r < 0.35:
        return f"this {product[0]}", 0
    aspects = product[1] + (GENERIC_ASPECTS if generic and rng.random() < 0.25 else [])
    if not allow_plural:
        aspects = [a for a in aspects if not a[1]]
    name, plural = rng.choice(aspects)
    return f"the {name}", plural


def clause(p: _Picker, product: tuple, polarity: int) -> Clause:
    """One clause of the given polarity, of a randomly chosen kind."""
    rng = p.rng
    kind = rng.choices(["copula", "verb", "feeling"], weights=[0.55, 0.25, 0.2])[0]
    if kind == "copula":
        subject, plural = _subject(p, product, generic=True)
        return _copula_clause(p, subject, plural, polarity)
    if kind == "verb":
        subject, _ = _subject(p, product, allow_plural=False)
        text, pol, neg = p.pick(VERB_PHRASES, where=lambda v: v[1] == polarity)
        p.parts.append("verb")
        text = text.replace("{n}", rng.choice(NUMBERS))
        return Clause(f"{subject} {text}", pol, {"negation"} if neg else set())
    subject, _ = _subject(p, product)
    template, pol, neg = p.pick(FEELINGS, where=lambda v: v[1] == polarity)
    p.parts.append("feeling")
    return Clause(template.replace("{x}", subject), pol, {"negation"} if neg else set())


def fragment(p: _Picker, product: tuple, polarity: int) -> Clause:
    """A noun phrase such as 'really flimsy zippers' (no negation)."""
    flags: set[str] = set()
    name, _ = p.rng.choice(product[1])
    p.parts.append("fragment")
    adj = _adjective(p, polarity, flags, intensify=p.rng.random() < 0.3)
    return Clause(f"{adj} {name}", polarity, flags)


def _other_polarity(rng: random.Random, polarity: int) -> int:
    return rng.choice([q for q in (-1, 0, 1) if q != polarity] if polarity != 0 else [-1, 1])


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:]


def review(rng: random.Random, split: str, label_polarity: int, held_out_rate: float) -> tuple[str, dict]:
    """One review text with the given overall polarity, and its metadata."""
    p = _Picker(rng, split, held_out_rate)
    product = p.pick(PRODUCTS)
    flags: set[str] = set()
    y = label_polarity
    structures = ["single", "agree", "second_wins", "first_wins", "verdict"]
    weights = [0.34, 0.2, 0.16, 0.06, 0.14]
    if y == 0:
        structures += ["both_sides", "pros_cons"]
        weights += [0.1, 0.1]
    structure = rng.choices(structures, weights=weights)[0]

    def add(c: Clause) -> str:
        flags.update(c.flags)
        return c.text

    if structure == "single":
        body = _sentence(add(clause(p, product, y))) + "."
    elif structure == "agree":
        a, b = add(clause(p, product, y)), add(clause(p, product, y))
        joiner = rng.choice(["{a} and {b}.", "{a}, and {b}.", "{a}; {b}.", "{a}. Also, {b}.", "{A}. {B}."])
        p.parts.append(joiner)
        body = joiner.format(a=a, b=b, A=_sentence(a), B=_sentence(b))
    elif structure in ("second_wins", "first_wins"):
        flags.add("contrast")
        minor = _other_polarity(rng, y)
        main_c, minor_c = clause(p, product, y), clause(p, product, minor)
        if structure == "second_wins" and rng.random() < 0.3:
            a = add(fragment(p, product, minor))  # "Great screen, but the battery died in a day."
            b = add(main_c)
            body = f"{_sentence(a)}, but {b}."
        elif structure == "second_wins":
            a, b = add(minor_c), add(main_c)
            connective = p.pick(SECOND_WINS)
            p.parts.append(connective)
            body = _sentence(connective.format(a=a, b=b)) + "."
        else:
            a, b = add(main_c), add(minor_c)
            connective = p.pick(FIRST_WINS)
            p.parts.append(connective)
            body = _sentence(connective.format(a=a, b=b)) + "."
    elif structure == "verdict":
        before = rng.choice([-1, 0, 1])
        if before != y:
            flags.add("contrast")
        a = add(clause(p, product, before))
        text, _, neg = p.pick(VERDICTS, where=lambda v: v[1] == y)
        if neg:
            flags.add("negation")
        overall = rng.choice(OVERALL)
        p.parts.append(overall)
        body = f"{_sentence(a)}. " + overall.format(v=text)
    elif structure == "both_sides":
        first = rng.choice([-1, 1])
        a, b = add(clause(p, product, first)), add(clause(p, product, -first))
        joiner = rng.choice(["{A} and {b}.", "{A}. {B}.", "{A}, and {b}."])
        p.parts.append(joiner)
        body = joiner.format(A=_sentence(a), B=_sentence(b), b=b)
    else:  # pros_cons
        good, bad = add(fragment(p, product, 1)), add(fragment(p, product, -1))
        body = f"Pros: {good}. Cons: {bad}."
    if rng.random() < 0.25:
        opener = rng.choice(OPENERS).format(product=product[0], who=rng.choice(WHO), n=rng.choice(NUMBERS))
        body = f"{opener} {body}"
        p.parts.append("opener")
    if rng.random() < 0.1:
        body = body[:-1] + "!!!" if body.endswith(".") else body + "!"
    body, noisy = _add_noise(body, rng)
    if noisy:
        flags.add("noise")
    meta = {name: (name in flags) for name in METADATA}
    meta["unseen_words"] = p.used_held_out
    meta["pattern"] = "|".join([structure, *p.parts])
    return body, meta


def _add_noise(text: str, rng: random.Random) -> tuple[str, bool]:
    """Lowercase, typos or shouting, each with a small probability."""
    noisy = False
    if rng.random() < 0.15:
        words = text.split(" ")
        for _ in range(rng.choice((1, 1, 2))):
            i = rng.randrange(len(words))
            new = typo(words[i], rng)
            noisy |= new != words[i]
            words[i] = new
        text = " ".join(words)
    r = rng.random()
    if r < 0.15:
        noisy |= text != text.lower()
        text = text.lower()
    elif r < 0.19:
        words = text.split(" ")
        i = rng.randrange(len(words))
        noisy |= words[i] != words[i].upper()
        words[i] = words[i].upper()
        text = " ".join(words)
    return text, noisy


def generate(seed: int = 13) -> dict[str, list[dict]]:
    """All three splits as lists of rows ``{"text", "label", <metadata>, "pattern"}``.

    The texts are unique across splits (compared in lower case), so no test review
    appears verbatim in training.
    """
    rng = random.Random(seed)
    seen: set[str] = set()
    splits: dict[str, list[dict]] = {}
    for split, size in SIZES.items():
        rows: list[dict] = []
        while len(rows) < size:
            y = rng.choices([-1, 0, 1], weights=[0.35, 0.3, 0.35])[0]
            # 35% of the validation/test reviews may use held-out words, each slot with p=0.6.
            held_out_rate = 0.6 if split != "train" and rng.random() < 0.35 else 0.0
            text, meta = review(rng, split, y, held_out_rate)
            key = text.lower()
            if key in seen:
                continue
            seen.add(key)
            rows.append({"text": text, "label": LABELS[y + 1], **meta})
        splits[split] = rows
    return splits
