"""The bundled NER data set: news-style sentences with PER, ORG, LOC and MISC entities (IOB2).

Sentences come from hand-written templates (business, politics, sport, culture,
datelines, headlines) whose slots are filled with entity names. The context around a slot
decides its type ("shares in X", "X told reporters", "flew to X"), so a model can infer the
type of a name it has never seen. Name pools are shuffled with the seed and split
70/15/15, so most validation and test entities never occur in training. A small shared
pool of ambiguous names (Jordan, Washington, Apple, Paris, ...) appears in every split
with different types, and in the fruit/food sense tagged O.
"""

from __future__ import annotations

import random
import re

from sft_helpers.data.noise import typo

TYPES = ("PER", "ORG", "LOC", "MISC")
SIZES = {"train": 3000, "validation": 500, "test": 500}
SPLIT_SHARES = {"train": 0.7, "validation": 0.15, "test": 0.15}

FIRST_NAMES = """James Maria Wei Aisha Carlos Yuki Olga Ahmed Priya Lars Fatima Diego Ingrid Kofi Mei Pierre Ana
Sergei Hannah Raj Lucia Tomasz Amara Kenji Sofia Emeka Nadia Hiroshi Elena Omar Chloe Mateo Freya Ravi Leila
Stefan Grace Jamal Rosa Viktor Naomi Arjun Isabel Dmitri Zara Felix Lena Tariq Marta Jonas Aiko Samuel Beatriz
Hugo Yasmin Andrei Clara Kwame Ines Mikhail Alice Bruno Divya Oscar Mariam Pablo Greta Ibrahim Nora Luca Simone
Henrik Amina Rafael Eva Chen Laura Youssef Anya Thomas Keiko Nikolai Sara Malik Julia Pedro Astrid Hassan Vera
Daniel Ayumi Emil Rania Marco Elif Tobias Noor Anton Lucy Farid Carmen Gustav Leyla Marek Ruth Sipho Irene
Joaquin Hana Boris Olivia Tunde Petra""".split()
LAST_NAMES = """Smith Garcia Wang Okafor Rossi Tanaka Ivanova Haddad Sharma Nielsen Khan Lopez Berg Mensah Li Dubois
Santos Petrov Fischer Gupta Moreno Kowalski Diallo Sato Romano Adeyemi Hussein Nakamura Popescu Rahman Martin
Silva Johansson Chowdhury Reyes Schmidt Osei Yamamoto Costa Novak Abbasi Lindqvist Mwangi Fernandez Kim Weber
Bianchi Sokolov Oyelaran Herrera Jensen Park Nguyen Alvarez Kovacs Mahmoud Hoffmann Castillo Eriksson Banda
Ferreira Volkov Chatterjee Ramos Larsen Zhou Mendoza Horvat Aziz Becker Moretti Andersen Suzuki Ortiz Wojcik
Kamau Delgado Richter Ricci Holm Takahashi Vargas Dvorak Saleh Keller Gallo Lund Watanabe Navarro Sousa Marsh
Abara Quint Tembo Ashford Lindgren Varga Pereira Kruger Hale Ibsen Duarte Farrow Nolan Ogunleye Reid Sandoval
Voss Whitlock Yilmaz Zeller Brandt Calloway""".split()
CITIES = """Lisbon Nairobi Osaka Bergen Cordoba Krakow Lyon Tampere Porto Hamburg Gdansk Seville Valencia Turin
Rotterdam Antwerp Dresden Leipzig Geneva Zurich Graz Salzburg Brno Debrecen Zadar Varna Izmir Ankara Tabriz Mashhad
Lahore Karachi Pune Chennai Kolkata Dhaka Chittagong Mandalay Hanoi Da_Nang Cebu Davao Surabaya Medan Busan Incheon
Sapporo Kyoto Nagoya Harbin Wuhan Chengdu Kunming Xiamen Perth Adelaide Brisbane Hobart Auckland Wellington
Dunedin Vancouver Calgary Winnipeg Halifax Montreal Ottawa Denver Portland Seattle Houston Phoenix Atlanta Boston
Chicago Detroit Memphis Nashville Tucson Oakland Monterrey Guadalajara Puebla Medellin Cali Quito Lima Arequipa
Recife Salvador Curitiba Manaus Rosario Tucuman Valparaiso Montevideo Asuncion Accra Kumasi Lagos Ibadan
Kano Dakar Bamako Kampala Kigali Lusaka Harare Maputo Durban Windhoek Tunis Oran Fez Alexandria Aqaba
New_York Los_Angeles San_Francisco Rio_de_Janeiro Buenos_Aires Kuala_Lumpur Hong_Kong Cape_Town Tel_Aviv
Sao_Paulo Mexico_City Ho_Chi_Minh_City New_Delhi St_Petersburg Santa_Cruz Las_Vegas San_Diego Port_Elizabeth
Abu_Dhabi""".split()
COUNTRIES = """Portugal Kenya Japan Norway Argentina Poland France Finland Germany Spain Italy Netherlands Belgium
Switzerland Austria Hungary Croatia Bulgaria Iran Pakistan India Bangladesh Myanmar Vietnam Indonesia Philippines
Canada Mexico Colombia Ecuador Peru Brazil Uruguay Paraguay Ghana Nigeria Senegal Mali Uganda Rwanda Zambia
Zimbabwe Mozambique Namibia Tunisia Algeria Morocco Egypt Lebanon Syria Iraq Sweden Denmark Ireland Greece
Romania Serbia Ukraine Belarus Chile Bolivia Venezuela Cuba Thailand Malaysia Nepal Mongolia Kazakhstan
New_Zealand South_Africa Sri_Lanka Costa_Rica Saudi_Arabia Czech_Republic South_Korea""".split()
NATIONALITIES = """Portuguese Kenyan Japanese Norwegian Argentine Polish French Finnish German Spanish Italian Dutch
Belgian Swiss Austrian Hungarian Croatian Bulgarian Iranian Pakistani Indian Bangladeshi Vietnamese Indonesian
Filipino Canadian Mexican Colombian Ecuadorian Peruvian Brazilian Uruguayan Ghanaian Nigerian Senegalese Ugandan
Zambian Tunisian Algerian Moroccan Egyptian Lebanese Syrian Iraqi Swedish Danish Irish Greek Romanian Serbian
Ukrainian Chilean Bolivian Venezuelan Cuban Thai Malaysian Nepalese Mongolian""".split()
ORG_WORDS = """Atlas Meridian Northwind Bluewater Kestrel Summit Crescent Vertex Halcyon Pinnacle Redwood Silverline
Granite Harbor Solstice Evergreen Ironbridge Lumen Orion Cobalt Sterling Falcon Tidewater Westfield Beacon
Cardinal Aurora Horizon Keystone Monarch Pioneer Riverside Sapphire Titan Unity Vanguard Willow Zenith Alder
Brightwater Cedar Delta Ember Fjord Glacier Highland Juniper Kingsley Lakeshore Maple Nimbus Oakridge Polaris
Quarry Radiant Sentinel Trident Upland Valiant Whitestone Yarrow Apex Blackrock Clearview Dunmore Eastgate Foxglove
Goldcrest Hawthorn Inland Jadeport Kinross Lodestar Mariner Northgate Osprey Pembroke Quayside Rosewood
Stonehaven Thornbury Umber Vireo Wexford""".split()
COMPANY_SUFFIXES = ["Group", "Holdings", "Industries", "Bank", "Airlines", "Motors", "Energy", "Technologies",
                    "Pharmaceuticals", "Media", "Insurance", "Capital", "Logistics", "Foods", "Telecom", "Steel",
                    "Mining", "Corp", "Inc", "Ltd"]  # fmt: skip
CLUB_SUFFIXES = ["United", "City", "Rovers", "Athletic", "Wanderers", "FC"]
EVENTS_FIXED = ["World Cup", "Olympic Games", "Tour de France", "Champions League", "Davis Cup", "Ryder Cup",
                "Asian Games", "Commonwealth Games", "Copa America", "Africa Cup of Nations"]  # fmt: skip
EVENT_PATTERNS = [
    "{NAT} Open",
    "{NAT} Grand Prix",
    "{CITY} Marathon",
    "{CITY} Film Festival",
    "{CITY} Masters",
]
# Places that recur in every split's news, as they do in real wires.
COMMON_PLACES = ["London", "Berlin", "Tokyo", "Moscow", "Beijing", "China", "Russia", "United States", "Britain",
                 "Australia"]  # fmt: skip
COMMON_ORGS = ["Reuters", "United Nations", "European Union", "NATO", "World Bank", "Red Cross"]

# Ambiguous names, shared by every split: the context decides the type.
AMBIGUOUS = {
    "PER_FIRST": ["Jordan", "Paris", "Chelsea", "Georgia", "Sydney", "Victoria"],
    "PER_LAST": ["Jordan", "Washington", "Lincoln", "Kent"],
    "LOC": ["Jordan", "Washington", "Paris", "Georgia", "Sydney", "Victoria", "Turkey", "Chad", "Lincoln", "Kent"],
    "ORG": ["Apple", "Amazon", "Orange", "Chelsea", "Shell", "Jaguar"],
}  # fmt: skip
# ... and the same words as ordinary nouns, tagged O.
COMMON_NOUN_SENTENCES = [
    "She ate an apple and two bananas for breakfast",
    "Apple pie and custard were served after the ceremony",
    "The price of orange juice rose again in {LOC}",
    "Orange juice exports from {LOC} fell by {NUM} percent",
    "Farmers said the turkey harvest was the smallest in {NUM} years",
    "He bought a jaguar figurine at a market in {LOC}",
    "Workers found an old shell on the beach near {LOC}",
    "Exports of apples and pears from {LOC} doubled last year",
    "The amazon parrot is a popular pet in {LOC} , {PER} said",
]

ROLES = ["chief executive", "finance minister", "spokesman", "spokeswoman", "chairman", "coach", "president",
         "foreign minister", "mayor", "director", "prime minister", "chief economist", "striker", "captain"]  # fmt: skip
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
NUMBERS = ["2", "3", "4", "5", "7", "10", "12", "15", "20", "25", "40", "150", "300", "1,200"]
AGES = ["19", "24", "31", "37", "45", "52", "68"]
YEARS = ["two", "three", "four", "five", "2", "3"]
SCORES = ["1-0", "2-1", "3-1", "2-2", "0-0", "4-2", "3-0", "1-1"]

# Templates: one sentence without its final period. Slots: {PER} full name, {LAST} surname,
# {ORG} company, {CLUB} sports club, {LOC} city or country, {CITY}, {COUNTRY}, {NAT}
# nationality (MISC), {EVENT} (MISC); {ROLE} {DAY} {NUM} {SCORE} are plain words.
TEMPLATES = """
{PER} , the {ROLE} of {ORG} , said on {DAY} that profits would rise
Shares in {ORG} rose {NUM} percent after the company raised its forecast
{ORG} said it would cut {NUM} jobs in {LOC}
{ORG} reported a net profit of {NUM} million dollars for the quarter
{ORG} agreed to buy {ORG} for {NUM} million dollars
Analysts at {ORG} expect the central bank in {COUNTRY} to cut rates
{PER} told reporters in {CITY} that the talks had failed
{PER} was born in {CITY} and moved to {COUNTRY} as a child
Police in {CITY} arrested {NUM} people on {DAY}
The {NAT} government said it would send aid to {COUNTRY}
{NAT} officials met their {NAT} counterparts in {CITY}
{PER} scored twice as {CLUB} beat {CLUB} {SCORE}
{CLUB} drew {SCORE} with {CLUB} on {DAY}
{CLUB} coach {PER} praised his players after the game
{PER} won the {EVENT} for the second time
The {EVENT} will be held in {CITY} next year
{NAT} cyclist {PER} finished third in the {EVENT}
{PER} , who plays for {CLUB} , was named in the {NAT} squad
Mr {LAST} said the {NAT} economy grew {NUM} percent
Ms {LAST} flew to {COUNTRY} for talks with {PER}
President {PER} arrived in {CITY} on {DAY}
{PER} , a spokeswoman for {ORG} , declined to comment
According to {PER} , the deal with {ORG} is worth {NUM} million
Heavy rain caused floods across northern {COUNTRY}
The earthquake struck {NUM} km south of {CITY}
{ORG} opened a new factory near {CITY}
{PER} joined {ORG} as {ROLE} in {NUM}
Thousands marched through {CITY} on {DAY} to protest against the plan
{COUNTRY} and {COUNTRY} signed a trade agreement
The {ROLE} of {COUNTRY} , {PER} , resigned on {DAY}
Talks between {ORG} and its unions broke down in {CITY}
{PER} of {COUNTRY} beat {PER} {SCORE} in the final
The {NAT} team arrived in {CITY} ahead of the {EVENT}
{ORG} shares fell {NUM} percent in {CITY} trading
The film by {NAT} director {PER} opened the {EVENT}
{PER} will take over as {ROLE} of {ORG} next month
Investors in {CITY} welcomed the merger of {ORG} and {ORG}
A court in {CITY} fined {ORG} {NUM} million euros
{PER} , the {NAT} {ROLE} , visited {COUNTRY} last week
Exports from {COUNTRY} to {COUNTRY} rose {NUM} percent
{LAST} , who joined {CLUB} from {CLUB} , scored in the {NUM}th minute
Voters in {COUNTRY} go to the polls on {DAY}
{ORG} will build a {NUM} million dollar plant in {COUNTRY}
The {NAT} parliament approved the budget on {DAY}
{PER} and {PER} will lead the {NAT} delegation to {CITY}
{CITY} is the largest port in {COUNTRY}
The tournament in {CITY} was won by {PER}
{PER} said {ORG} had no plans to leave {COUNTRY}
Fans of {CLUB} celebrated in the streets of {CITY}
{ORG} , based in {CITY} , makes parts for cars
A {NAT} court sentenced {PER} to {NUM} years in prison
{PER} told {ORG} that {COUNTRY} would not change its policy
Flights from {CITY} to {CITY} were cancelled because of fog
The river burst its banks near {CITY} in eastern {COUNTRY}
{PER} , a {AGE}-year-old teacher from {CITY} , won the prize
{ORG} named {PER} as its new {ROLE}
Police said {PER} was arrested at the airport in {CITY}
The {EVENT} starts in {CITY} on {DAY}
{NAT} and {NAT} troops held joint exercises near {CITY}
{PER} , speaking in {CITY} , called for calm
{ORG} and {ORG} said they would share the cost
Trading in {ORG} shares was suspended on {DAY}
Prime minister {PER} met {ORG} bosses in {CITY}
{PER} signed a {YEARS}-year contract with {CLUB}
Record crowds attended the {EVENT} in {CITY}
The embassy of {COUNTRY} in {CITY} was closed on {DAY}
""".strip().splitlines()

HEADLINES = [
    "SOCCER - {CLUB} BEAT {CLUB} {SCORE}",
    "TENNIS - {PER} WINS {EVENT}",
    "BUSINESS - {ORG} TO CUT {NUM} JOBS",
    "{COUNTRY} ELECTION RESULTS",
]
SUFFIXES = [" , {ORG} reported", " , officials said", " , a spokesman for {ORG} said", " , according to {PER}",
            " , {PER} told reporters", " , sources in {CITY} said", ""]  # fmt: skip
PREFIXES = ["On {DAY} , ", "Earlier this week , ", "In a statement , ", "Meanwhile , ", "In {CITY} , "]


def split_pool(names: list[str], rng: random.Random) -> dict[str, list[str]]:
    """Shuffle ``names`` and cut it 70/15/15 into train, validation and test pools."""
    names = sorted(set(names))
    rng.shuffle(names)
    n_train = round(len(names) * SPLIT_SHARES["train"])
    n_val = round(len(names) * SPLIT_SHARES["validation"])
    return {"train": names[:n_train], "validation": names[n_train : n_train + n_val],
            "test": names[n_train + n_val :]}  # fmt: skip


def _acronyms(rng: random.Random, n: int = 150) -> list[str]:
    letters = "ABCDEFGHIJKLMNOPRSTUVW"
    out: list[str] = []
    while len(out) < n:
        a = "".join(rng.choice(letters) for _ in range(3))
        if a not in out:
            out.append(a)
    return out


def _words(s: str) -> list[str]:
    return s.replace("_", " ").split()


class _Filler:
    """Fills template slots for one split, with that split's name pools."""

    def __init__(self, pools: dict[str, dict[str, list[str]]], split: str, rng: random.Random):
        self.pools = {k: v[split] for k, v in pools.items()}
        self.rng = rng

    def _pick(self, key: str) -> str:
        return self.rng.choice(self.pools[key])

    def person(self) -> list[str]:
        r = self.rng.random()
        first = self._pick("first") if r > 0.1 else self.rng.choice(AMBIGUOUS["PER_FIRST"])
        last = self._pick("last") if r < 0.9 else self.rng.choice(AMBIGUOUS["PER_LAST"])
        if self.rng.random() < 0.08:  # a second surname: "Ana Sousa Herrera"
            second = self._pick("last")
            return [first, last, second] if second != last else [first, last]
        return [first, last]

    def last(self) -> list[str]:
        return [self._pick("last") if self.rng.random() > 0.1 else self.rng.choice(AMBIGUOUS["PER_LAST"])]

    def org(self) -> list[str]:
        rng = self.rng
        r = rng.random()
        if r < 0.1:
            return [rng.choice(AMBIGUOUS["ORG"])]
        if r < 0.15:
            return _words(rng.choice(COMMON_ORGS))
        if r < 0.55:
            return [self._pick("org_word"), rng.choice(COMPANY_SUFFIXES)]
        if r < 0.7:
            return [self._pick("last"), rng.choice(COMPANY_SUFFIXES)]
        if r < 0.8:
            return [rng.choice(["Bank", "University"]), "of", *_words(self._pick("city"))]
        if r < 0.9:
            return [self._pick("acronym")]
        return [self._pick("org_word"), self._pick("org_word")]

    def club(self) -> list[str]:
        if self.rng.random() < 0.12:
            return ["Chelsea"]
        return [*_words(self._pick("city")), self.rng.choice(CLUB_SUFFIXES)]

    def _place(self, pool: str) -> list[str]:
        r = self.rng.random()
        if r < 0.1:
            return [self.rng.choice(AMBIGUOUS["LOC"])]
        if r < 0.25:
            return _words(self.rng.choice(COMMON_PLACES))
        return _words(self._pick(pool))

    def city(self) -> list[str]:
        return self._place("city")

    def country(self) -> list[str]:
        return self._place("country")

    def event(self) -> list[str]:
        rng = self.rng
        if rng.random() < 0.3:
            return _words(rng.choice(EVENTS_FIXED))
        pattern = rng.choice(EVENT_PATTERNS)
        return _words(pattern.replace("{NAT}", self._pick("nat")).replace("{CITY}", self._pick("city")))

    def fill(self, slot: str) -> tuple[list[str], str | None]:
        """The tokens for ``slot`` and their entity type (None for plain words)."""
        rng = self.rng
        plain = {"ROLE": ROLES, "DAY": DAYS, "NUM": NUMBERS, "SCORE": SCORES, "AGE": AGES, "YEARS": YEARS}
        if slot in plain:
            return rng.choice(plain[slot]).split(), None
        if slot == "LOC":
            slot = rng.choice(["CITY", "COUNTRY"])
        makers = {"PER": (self.person, "PER"), "LAST": (self.last, "PER"), "ORG": (self.org, "ORG"),
                  "CLUB": (self.club, "ORG"), "CITY": (self.city, "LOC"), "COUNTRY": (self.country, "LOC"),
                  "NAT": (lambda: [self._pick("nat")], "MISC"), "EVENT": (self.event, "MISC")}  # fmt: skip
        if slot not in makers:
            raise ValueError(f"template slot {{{slot}}} is unknown")
        make, kind = makers[slot]
        return make(), kind


_SLOT = re.compile(r"^\{([A-Z]+)\}$")
_INNER_SLOT = re.compile(r"\{(NUM|DAY|AGE|YEARS)\}")


def render(template: str, filler: _Filler) -> tuple[list[str], list[str]]:
    """Tokens and IOB2 tags of one filled template."""
    tokens: list[str] = []
    tags: list[str] = []
    for piece in template.split():
        m = _SLOT.match(piece)
        if m is None:  # a plain word, maybe with a plain slot inside: "{NUM}-year-old"
            piece = _INNER_SLOT.sub(lambda inner: " ".join(filler.fill(inner.group(1))[0]), piece)
            tokens.append(piece)
            tags.append("O")
            continue
        words, kind = filler.fill(m.group(1))
        tokens.extend(words)
        tags.extend(["O"] * len(words) if kind is None else [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1))
    return tokens, tags


def _lower_first(template: str) -> str:
    first, _, rest = template.partition(" ")
    if first.startswith("{") or first.isupper():
        return template
    return f"{first.lower()} {rest}"


def sentence(rng: random.Random, filler: _Filler) -> tuple[list[str], list[str], str]:
    """One tagged sentence and the id of its pattern (template plus affixes)."""
    r = rng.random()
    if r < 0.04:
        i = rng.randrange(len(HEADLINES))
        tokens, tags = render(HEADLINES[i], filler)
        return [t.upper() for t in tokens], tags, f"headline{i}"
    if r < 0.07:  # a dateline, as in news wires: "LISBON 1996-08-22"
        tokens, tags = render("{CITY}", filler)
        date = f"{rng.choice(['1996', '1997'])}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        return [t.upper() for t in tokens] + [date], tags + ["O"], "dateline"
    if r < 0.12:
        i = rng.randrange(len(COMMON_NOUN_SENTENCES))
        tokens, tags = render(COMMON_NOUN_SENTENCES[i], filler)
        return tokens + ["."], tags + ["O"], f"noun{i}"
    i = rng.randrange(len(TEMPLATES))
    template = TEMPLATES[i]
    pattern = f"t{i}"
    if rng.random() < 0.2:
        j = rng.randrange(len(PREFIXES))
        template = PREFIXES[j] + _lower_first(template)
        pattern += f"p{j}"
    if rng.random() < 0.3:
        j = rng.randrange(len(SUFFIXES))
        template += SUFFIXES[j]
        pattern += f"s{j}"
    tokens, tags = render(template + " .", filler)
    return tokens, tags, pattern


def _add_noise(tokens: list[str], rng: random.Random) -> tuple[list[str], bool]:
    r = rng.random()
    if r < 0.08:
        return [t.lower() for t in tokens], True
    if r < 0.14:
        tokens = list(tokens)
        i = rng.randrange(len(tokens))
        old, tokens[i] = tokens[i], typo(tokens[i], rng)
        return tokens, tokens[i] != old
    return tokens, False


def make_pools(rng: random.Random) -> dict[str, dict[str, list[str]]]:
    """Every name pool, split into train / validation / test (disjoint)."""
    return {
        "first": split_pool(FIRST_NAMES, rng),
        "last": split_pool(LAST_NAMES, rng),
        "city": split_pool(CITIES, rng),
        "country": split_pool(COUNTRIES, rng),
        "nat": split_pool(NATIONALITIES, rng),
        "org_word": split_pool(ORG_WORDS, rng),
        "acronym": split_pool(_acronyms(rng), rng),
    }


def generate(seed: int = 13) -> dict[str, list[dict]]:
    """All three splits as lists of ``{"tokens", "tags", "pattern", "noise"}`` rows."""
    rng = random.Random(seed)
    pools = make_pools(rng)
    out: dict[str, list[dict]] = {}
    for split, size in SIZES.items():
        filler = _Filler(pools, split, rng)
        rows = []
        for _ in range(size):
            tokens, tags, pattern = sentence(rng, filler)
            tokens, noisy = _add_noise(tokens, rng)
            rows.append({"tokens": tokens, "tags": tags, "pattern": pattern, "noise": noisy})
        out[split] = rows
    return out
