"""The bundled extractive question-answering data set: SQuAD 2.0-style paragraphs and questions.

Each paragraph is written from a random *fact record* about an invented person, company,
football final or city (four kinds), in one of several wordings per fact. Questions ask for
a fact in other words than the paragraph uses ("Where was X born?" against "X, a native of
Lyon, ..."); the answer is the span of the paragraph that states it, with its character
offset. About a third of the questions cannot be answered from the paragraph, as in
SQuAD 2.0: they ask for a fact the paragraph leaves out, or for a fact about a second
entity of the same type (a sibling, a rival company, the losing team, a twin town) for
which the paragraph states it only about the first, so a matching word and an answer of
the right type are there but belong to someone else.

What makes it more than pattern matching:

* distractors of the same type in every paragraph (two persons, two cities, two years);
* later sentences say "she" or "the company" instead of the name, so the answer is often
  not in the sentence that names the entity, nor in the first sentence;
* a share of paragraphs are long (filler and extra distractor sentences first), longer than
  the chapter's 128-token window, so the answer lies in the second or third window;
* name pools are split 70/15/15 by the seed, so most validation and test names are new.

``generate(seed)`` returns the rows per split; ``squad_json(rows)`` writes them in the
official nested SQuAD format (version v2.0, ``is_impossible``), which is also the format
``sft_helpers.data.load_qa`` reads from a user's file.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sft_helpers.data.news import split_pool  # the same 70/15/15 cut as the NER data

SIZES = {"train": 2200, "validation": 300, "test": 300}
UNANSWERABLE_SHARE = 1 / 3  # target share of questions without an answer in the paragraph
LONG_SHARE = 0.25  # paragraphs padded with filler and extra distractors to > 128 tokens
KINDS = ("biography", "company", "final", "city")

FEMALE = """Maria Aisha Yuki Olga Priya Fatima Ingrid Mei Ana Hannah Lucia Amara Sofia Nadia Elena Chloe Freya
Leila Grace Rosa Naomi Isabel Zara Lena Marta Aiko Beatriz Yasmin Clara Ines Alice Divya Mariam Greta Nora Simone
Amina Eva Laura Anya Keiko Sara Julia Astrid Vera Ayumi Rania Elif Noor Lucy Carmen Leyla Ruth Irene Hana Olivia
Petra Dagny Wanjiru Oksana Tamsin Ngozi Rasa Solveig Pilar Esra Mirela""".split()
MALE = """James Wei Carlos Ahmed Lars Diego Kofi Pierre Sergei Raj Tomasz Kenji Emeka Hiroshi Omar Mateo Ravi Stefan
Jamal Viktor Arjun Dmitri Felix Tariq Jonas Samuel Hugo Andrei Kwame Mikhail Bruno Oscar Pablo Ibrahim Luca Henrik
Rafael Chen Youssef Thomas Nikolai Malik Pedro Hassan Daniel Emil Marco Tobias Anton Farid Gustav Marek Sipho
Joaquin Boris Tunde Goran Aurelio Bjorn Kasimir Teodor Idris Mathias Ruben Caspian Leif""".split()
LAST = """Smith Garcia Wang Okafor Rossi Tanaka Ivanova Haddad Sharma Nielsen Khan Lopez Berg Mensah Dubois Santos
Petrov Fischer Gupta Moreno Kowalski Diallo Sato Romano Adeyemi Hussein Nakamura Popescu Rahman Martin Silva
Johansson Chowdhury Reyes Schmidt Osei Yamamoto Costa Novak Abbasi Lindqvist Mwangi Fernandez Weber Bianchi
Sokolov Herrera Jensen Park Nguyen Alvarez Kovacs Mahmoud Hoffmann Castillo Eriksson Banda Ferreira Volkov Ramos
Larsen Mendoza Horvat Aziz Becker Moretti Andersen Suzuki Ortiz Wojcik Kamau Delgado Richter Ricci Holm Takahashi
Vargas Dvorak Saleh Keller Gallo Lund Watanabe Navarro Sousa Marsh Abara Quint Tembo Ashford Lindgren Varga
Pereira Kruger Hale Ibsen Duarte Farrow Nolan Ogunleye Reid Sandoval Voss Whitlock Yilmaz Zeller Brandt Calloway
Okonkwo Haugen Strand Mbeki Falk Ekwueme Rauch Lozano Szabo Aalto Brennan Dalca Mirza Thorne Vidal""".split()
CITIES = """Lisbon Nairobi Osaka Bergen Cordoba Krakow Lyon Tampere Porto Hamburg Gdansk Seville Valencia Turin
Rotterdam Antwerp Dresden Leipzig Geneva Zurich Graz Salzburg Brno Debrecen Zadar Varna Izmir Ankara Tabriz
Lahore Karachi Pune Chennai Kolkata Dhaka Mandalay Hanoi Cebu Davao Surabaya Medan Busan Incheon Sapporo Kyoto
Nagoya Harbin Wuhan Chengdu Kunming Xiamen Perth Adelaide Brisbane Hobart Auckland Wellington Dunedin Vancouver
Calgary Winnipeg Halifax Montreal Ottawa Denver Portland Seattle Houston Phoenix Atlanta Boston Chicago Detroit
Memphis Nashville Tucson Oakland Monterrey Guadalajara Puebla Medellin Cali Quito Lima Arequipa Recife Salvador
Curitiba Manaus Rosario Montevideo Asuncion Accra Kumasi Lagos Ibadan Kano Dakar Bamako Kampala Kigali Lusaka
Harare Maputo Durban Windhoek Tunis Oran Fez Alexandria Aqaba Uppsala Aarhus Tartu Kaunas Ljubljana Plovdiv
Cluj Lviv Odesa Tbilisi Baku Almaty Samarkand Esfahan Shiraz Mosul Haifa Mombasa Arusha Goma Luanda Benguela
Cuenca Trujillo Rosetta Sfax Gabes Bilbao Malaga Bari Verona Nantes Lille Ghent Utrecht Malmo Odense Trondheim
Oulu Riga Vilnius Poznan Ostrava Kosice Pecs Split Nis Iasi Galati""".split()
COUNTRIES = """Portugal Kenya Japan Norway Argentina Poland France Finland Germany Spain Italy Belgium Switzerland
Austria Hungary Croatia Bulgaria Pakistan India Bangladesh Myanmar Vietnam Indonesia Canada Mexico Colombia
Ecuador Peru Brazil Uruguay Paraguay Ghana Nigeria Senegal Mali Uganda Rwanda Zambia Mozambique Namibia Tunisia
Algeria Morocco Egypt Sweden Denmark Ireland Greece Romania Serbia Ukraine Chile Bolivia Thailand Malaysia Nepal
Mongolia Estonia Latvia Lithuania Slovenia Georgia Armenia Iceland Tanzania Angola Botswana Malawi""".split()
RIVERS = """Tagus Douro Vistula Oder Elbe Rhine Danube Loire Rhone Seine Po Ebro Guadalquivir Drava Sava Tisza
Dnieper Volta Niger Zambezi Limpopo Orange Nile Mekong Irrawaddy Ganges Indus Yangtze Amur Parana Magdalena
Orinoco Fraser Yukon Mackenzie Murray Waikato Neris Daugava Narva""".split()
ORG_WORDS = """Atlas Meridian Northwind Bluewater Kestrel Summit Crescent Vertex Halcyon Pinnacle Redwood Silverline
Granite Harbor Solstice Evergreen Ironbridge Lumen Orion Cobalt Sterling Falcon Tidewater Westfield Beacon Cardinal
Aurora Horizon Keystone Monarch Pioneer Riverside Sapphire Titan Vanguard Willow Zenith Alder Brightwater Cedar
Ember Fjord Glacier Highland Juniper Kingsley Lakeshore Maple Nimbus Oakridge Polaris Quarry Radiant Sentinel
Trident Upland Valiant Whitestone Yarrow Apex Blackrock Clearview Dunmore Eastgate Foxglove Goldcrest Hawthorn
Jadeport Kinross Lodestar Mariner Northgate Osprey Pembroke Quayside Rosewood Stonehaven Thornbury Vireo Wexford
Amberly Bramble Coppervale Driftwood Elmstead Farrowdale Greystone Hollybrook Ivorygate Larkspur""".split()
ORG_SUFFIXES = ["Group", "Holdings", "Industries", "Motors", "Energy", "Technologies", "Pharmaceuticals", "Media",
                "Insurance", "Logistics", "Foods", "Telecom", "Steel", "Textiles", "Robotics", "Systems"]  # fmt: skip
PRODUCTS = ["solar panels", "electric buses", "hearing aids", "frozen fish", "wind turbines", "office chairs",
            "bicycle tyres", "vaccines", "mobile games", "glass bottles", "farm tractors", "security cameras",
            "paper towels", "sports shoes", "medical scanners", "water pumps", "ceramic tiles", "fishing nets",
            "train brakes", "coffee machines"]  # fmt: skip
SUBJECTS = ["chemistry", "law", "economics", "medicine", "architecture", "physics", "history", "mathematics",
            "civil engineering", "music", "biology", "philosophy", "computer science", "journalism"]  # fmt: skip
ROLES = ["chief engineer", "head of research", "finance director", "marketing manager", "legal adviser",
         "chief designer", "sales director", "data analyst", "press officer", "plant manager"]  # fmt: skip
JOBS = ["an engineer", "a nurse", "a teacher", "a pilot", "a lawyer", "a chef", "an architect", "a dentist"]
PRIZE_HEADS = ["Medal", "Prize", "Award"]
PRIZE_FIELDS = ["Science", "Design", "Literature", "Engineering", "Innovation", "Journalism", "Public Service"]
CLUB_SUFFIXES = ["United", "City", "Rovers", "Athletic", "Wanderers", "FC", "Albion", "Town"]
CUPS = ["National Cup", "League Cup", "Super Cup", "Coastal Trophy", "Federation Cup", "Spring Shield"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
SCORES = ["1-0", "2-1", "3-1", "3-2", "2-0", "4-2", "3-0", "4-1"]
SIBLINGS = {"F": ("sister", "brother"), "M": ("brother", "sister")}  # (same-gender, other) relatives

FILLER = [
    "Local newspapers covered the story at length.",
    "The weather that year was unusually mild.",
    "Several details of the account were disputed later.",
    "Much of the early record was lost in a fire.",
    "Historians still argue about the exact order of events.",
    "The region's economy grew quickly during that period.",
    "Tourism has become more important in recent decades.",
    "A documentary about these years was broadcast on national television.",
    "Few people outside the region had heard of it at the time.",
    "The following years brought many changes.",
]

_SLOT = re.compile(r"\{(\w+)\}")


# ---------------------------------------------------------------------------------- building text
class _Paragraph:
    """A paragraph built sentence by sentence; remembers where each stated fact's value sits."""

    def __init__(self) -> None:
        self.text = ""
        self.facts: dict[str, tuple[str, int]] = {}  # fact key -> (answer text, character offset)

    def say(self, template: str, values: Mapping[str, str], facts: Mapping[str, str] | None = None) -> None:
        """Append one sentence; ``facts`` maps a slot name to the fact key it states."""
        facts = facts or {}
        out, position = [], len(self.text) + (1 if self.text else 0)
        last = 0
        for match in _SLOT.finditer(template):
            out.append(template[last : match.start()])
            position += len(template[last : match.start()])
            value = values[match.group(1)]
            key = facts.get(match.group(1))
            if key is not None and key not in self.facts:
                self.facts[key] = (value, position)
            out.append(value)
            position += len(value)
            last = match.end()
        out.append(template[last:])
        sentence = "".join(out)
        sentence = sentence[0].upper() + sentence[1:]  # a pronoun at the start
        self.text = f"{self.text} {sentence}" if self.text else sentence


class _Names:
    """Distinct names of each type for one paragraph, from one split's pools."""

    def __init__(self, pools: Mapping[str, Sequence[str]], rng: random.Random) -> None:
        self.pools, self.rng, self.used = pools, rng, set()

    def _fresh(self, make: Callable[[], str]) -> str:
        for _ in range(100):
            value = make()
            if value not in self.used and not any(value in u or u in value for u in self.used):
                self.used.add(value)
                return value
        raise RuntimeError("could not draw a fresh name; the pools are too small")

    def person(self, gender: str) -> str:
        first = self.pools["female" if gender == "F" else "male"]
        return self._fresh(lambda: f"{self.rng.choice(first)} {self.rng.choice(self.pools['last'])}")

    def city(self) -> str:
        return self._fresh(lambda: self.rng.choice(self.pools["city"]))

    def country(self) -> str:
        return self._fresh(lambda: self.rng.choice(self.pools["country"]))

    def org(self) -> str:
        def make() -> str:
            if self.rng.random() < 0.25:
                return f"{self.rng.choice(self.pools['last'])} {self.rng.choice(ORG_SUFFIXES)}"
            return f"{self.rng.choice(self.pools['org_word'])} {self.rng.choice(ORG_SUFFIXES)}"

        return self._fresh(make)

    def club(self) -> str:
        return self._fresh(lambda: f"{self.rng.choice(self.pools['city'])} {self.rng.choice(CLUB_SUFFIXES)}")

    def year(self, low: int, high: int) -> str:
        return self._fresh(lambda: str(self.rng.randint(low, high)))

    def number(self, low: int, high: int, step: int = 1) -> str:
        return self._fresh(lambda: f"{self.rng.randrange(low, high, step):,}")

    def pick(self, pool: Sequence[str]) -> str:
        return self._fresh(lambda: self.rng.choice(list(pool)))


def _fmt(template: str, values: Mapping[str, str]) -> str:
    """Fill a question template; a possessive after a final s is written s' ("Falcon Systems' rival")."""
    return re.sub(r"s's\b", "s'", template.format(**values))


def _gender(rng: random.Random) -> str:
    return "F" if rng.random() < 0.5 else "M"


def _pronouns(gender: str) -> dict[str, str]:
    return {"he": "she", "his": "her", "him": "her"} if gender == "F" else {"he": "he", "his": "his", "him": "him"}


# ---------------------------------------------------------------------------------- the four kinds
# Each writer returns (title, paragraph, questions) where a question is
# (question text, fact key or None for "only a distractor / nothing states it", kind of question).
Question = tuple[str, str, str]  # (text, fact key, question type); the key may be absent from the paragraph


def _biography(names: _Names, rng: random.Random) -> tuple[str, _Paragraph, list[Question]]:
    g = _gender(rng)
    p = names.person(g)
    pr = _pronouns(g)
    relation = rng.choice(SIBLINGS[g])
    s = names.person("F" if relation == "sister" else "M")
    if rng.random() < 0.5 and s.split()[0] != p.split()[0]:  # the same surname: the name alone does not tell the two apart
        s = f"{s.split()[0]} {p.split()[-1]}"
    first = p.split()[0]
    v = {
        "P": p, "S": s, "he": pr["he"], "his": pr["his"], "rel": relation, "first": first,
        "c_birth": names.city(), "c_now": names.city(), "c_sib": names.city(),
        "y_birth": names.year(1940, 1995), "y_join": names.year(1996, 2021), "y_prize": names.year(1996, 2023),
        "y_sib": names.year(1940, 1995), "org": names.org(), "org_sib": names.org(),
        "subject": names.pick(SUBJECTS), "univ": f"University of {names.city()}", "role": names.pick(ROLES),
        "prize": f"{names.pick(PRIZE_FIELDS)} {rng.choice(PRIZE_HEADS)}", "job": rng.choice(JOBS),
    }  # fmt: skip
    keep = {k for k in ("birth_year", "study", "join", "prize", "now", "sib_birth", "sib_org") if rng.random() < 0.7}
    par = _Paragraph()
    with_year, without_year = rng.choice(
        [
            ("{P} was born in {c_birth} in {y_birth}.", "{P} was born in {c_birth}."),
            ("Born in {c_birth} in {y_birth}, {P} grew up with two older cousins.",
             "Born in {c_birth}, {P} grew up with two older cousins."),
            ("{P}, a native of {c_birth}, was born in {y_birth}.", "{P} is a native of {c_birth}."),
        ]
    )  # fmt: skip
    if "birth_year" in keep:
        template, facts = with_year, {"c_birth": "birth_city", "y_birth": "birth_year"}
    else:
        template, facts = without_year, {"c_birth": "birth_city"}
    sentences = [(template, facts)]
    if "study" in keep:
        sentences.append(rng.choice([
            ("{he} studied {subject} at the {univ}.", {"subject": "subject", "univ": "university"}),
            ("After a degree in {subject} from the {univ}, {he} worked abroad for a while.",
             {"subject": "subject", "univ": "university"}),
        ]))  # fmt: skip
    if "join" in keep:
        sentences.append(rng.choice([
            ("In {y_join} {he} joined {org} as {role}.", {"y_join": "join_year", "org": "employer", "role": "role"}),
            ("{org} hired {first} as {role} in {y_join}.", {"y_join": "join_year", "org": "employer", "role": "role"}),
        ]))  # fmt: skip
    if "prize" in keep:
        sentences.append(rng.choice([
            ("{he} received the {prize} in {y_prize}.", {"prize": "prize", "y_prize": "prize_year"}),
            ("The {prize} went to {first} in {y_prize}.", {"prize": "prize", "y_prize": "prize_year"}),
        ]))  # fmt: skip
    if "now" in keep:
        sentences.append(rng.choice([
            ("{he} now lives in {c_now}.", {"c_now": "home"}),
            ("Later {he} settled in {c_now} with {his} family.", {"c_now": "home"}),
        ]))  # fmt: skip
    sib = "{his} {rel}, {S}, is {job} in {c_sib}"
    if "sib_org" in keep:
        sib += " and works for {org_sib}"
    sib += "."
    sentences.append((sib, {"S": "sibling", "c_sib": "sib_city", "org_sib": "sib_org"}))
    if "sib_birth" in keep:
        sentences.append(("{S} was born in {y_sib}.", {"y_sib": "sib_birth_year"}))
    for template, facts in sentences:
        par.say(template, v, facts)
    q = [
        (rng.choice(["Where was {P} born?", "In which city was {P} born?", "Which city does {P} come from?"]),
         "birth_city", "where"),
        (rng.choice(["When was {P} born?", "In what year was {P} born?"]), "birth_year", "when"),
        (rng.choice(["What did {P} study?", "Which subject did {P} read at university?"]), "subject", "what"),
        (rng.choice(["Which university did {P} attend?", "Where did {P} study?"]), "university", "which"),
        (rng.choice(["Which company did {P} join?", "Who employed {P} as {role}?"]), "employer", "which"),
        (rng.choice(["When did {P} join {org}?", "In which year was {P} hired?"]), "join_year", "when"),
        (rng.choice(["What job was {P} given at {org}?", "What position did {P} take?"]), "role", "what"),
        (rng.choice(["Which award did {P} receive?", "What prize did {P} win?"]), "prize", "which"),
        (rng.choice(["When did {P} win the prize?", "In what year was {P} given the award?"]), "prize_year", "when"),
        (rng.choice(["Where does {P} live now?", "In which city did {P} settle?"]), "home", "where"),
        (rng.choice(["Who is {P}'s {rel}?", "What is the name of {P}'s {rel}?"]), "sibling", "who"),
        (rng.choice(["Where does {S} work?", "In which city does {S} live?"]), "sib_city", "where"),
        (rng.choice(["Which company does {S} work for?", "Who employs {S}?"]), "sib_org", "which"),
        (rng.choice(["When was {S} born?", "In what year was {P}'s {rel} born?"]), "sib_birth_year", "when"),
        # facts the paragraph never states about the sibling: their distractor is the main person's
        (rng.choice(["Where was {S} born?", "In which city was {P}'s {rel} born?"]), "sib_birth_city", "where"),
        (rng.choice(["Which prize did {S} win?", "What award did {P}'s {rel} receive?"]), "sib_prize", "which"),
        (rng.choice(["What did {S} study?", "Which subject did {P}'s {rel} study?"]), "sib_subject", "what"),
    ]  # fmt: skip
    return p, par, [(_fmt(t, v), key, kind) for t, key, kind in q]


def _company(names: _Names, rng: random.Random) -> tuple[str, _Paragraph, list[Question]]:
    g = _gender(rng)
    v = {
        "O": names.org(), "R": names.org(), "B": names.org(), "F": names.person(g), "C": names.person(_gender(rng)),
        "RC": names.person(_gender(rng)), "he": _pronouns(g)["he"], "c_found": names.city(), "c_hq": names.city(),
        "c_rival": names.city(), "y_found": names.year(1900, 2010), "y_buy": names.year(2011, 2023),
        "y_rival": names.year(1900, 2010), "n_staff": names.number(150, 40000, 50),
        "price": names.number(12, 900), "product": names.pick(PRODUCTS), "r_product": names.pick(PRODUCTS),
    }  # fmt: skip
    keep = {k for k in ("hq", "ceo", "staff", "buy", "rival_founded", "rival_ceo") if rng.random() < 0.7}
    par = _Paragraph()
    par.say(rng.choice([
        "{O} was founded by {F} in {c_found} in {y_found}.",
        "In {y_found} {F} set up {O} in {c_found}.",
        "{O} began in {y_found}, when {F} opened a small workshop in {c_found}.",
    ]), v, {"F": "founder", "c_found": "found_city", "y_found": "found_year", "O": "self"})  # fmt: skip
    par.say(rng.choice(["The company makes {product}.", "Today its main business is {product}."]), v,
            {"product": "product"})  # fmt: skip
    if "hq" in keep:
        par.say(rng.choice(["Its headquarters are in {c_hq}.", "The firm moved its head office to {c_hq}."]), v,
                {"c_hq": "hq"})  # fmt: skip
    if "ceo" in keep:
        par.say(rng.choice(["{C} has been chief executive since the founder retired.",
                            "The company is now run by {C}."]), v, {"C": "ceo"})  # fmt: skip
    if "staff" in keep:
        par.say(rng.choice(["It employs {n_staff} people.", "The group has {n_staff} employees worldwide."]), v,
                {"n_staff": "staff"})  # fmt: skip
    if "buy" in keep:
        par.say(rng.choice(["In {y_buy} it bought {B} for {price} million dollars.",
                            "{B} was taken over by the company in {y_buy} for {price} million dollars."]), v,
                {"B": "bought", "y_buy": "buy_year", "price": "price"})  # fmt: skip
    rival = "Its main rival, {R}, is based in {c_rival} and makes {r_product}"
    if "rival_founded" in keep:
        rival += "; it dates from {y_rival}"
    par.say(rival + ".", v, {"R": "rival", "c_rival": "rival_city", "r_product": "rival_product",
                             "y_rival": "rival_found_year"})  # fmt: skip
    if "rival_ceo" in keep:
        par.say("{R} is led by {RC}.", v, {"RC": "rival_ceo"})
    q = [
        (rng.choice(["Who founded {O}?", "Who started {O}?", "Who set up {O}?"]), "founder", "who"),
        (rng.choice(["When was {O} founded?", "In what year was {O} established?"]), "found_year", "when"),
        (rng.choice(["Where was {O} founded?", "In which city did {O} start?"]), "found_city", "where"),
        (rng.choice(["What does {O} make?", "What does {O} produce?"]), "product", "what"),
        (rng.choice(["Where is {O} based?", "Where are the headquarters of {O}?"]), "hq", "where"),
        (rng.choice(["Who is the chief executive of {O}?", "Who runs {O}?"]), "ceo", "who"),
        (rng.choice(["How many people does {O} employ?", "How many employees does {O} have?"]), "staff", "how many"),
        (rng.choice(["Which company did {O} buy?", "What did {O} acquire?"]), "bought", "which"),
        (rng.choice(["How much did {O} pay for {B}?", "What was the price of {B}, in millions of dollars?"]),
         "price", "how many"),
        (rng.choice(["When did {O} buy {B}?", "In what year was {B} taken over?"]), "buy_year", "when"),
        (rng.choice(["Who is {O}'s main competitor?", "Which firm competes with {O}?"]), "rival", "which"),
        (rng.choice(["Where is {R} based?", "In which city is {R}?"]), "rival_city", "where"),
        (rng.choice(["What does {R} make?", "What does {R} produce?"]), "rival_product", "what"),
        (rng.choice(["When was {R} founded?", "In what year was {R} established?"]), "rival_found_year", "when"),
        (rng.choice(["Who leads {R}?", "Who is the chief executive of {R}?"]), "rival_ceo", "who"),
        # never stated about the rival
        (rng.choice(["Who founded {R}?", "Who started {R}?"]), "rival_founder", "who"),
        (rng.choice(["How many people does {R} employ?", "How many employees does {R} have?"]), "rival_staff",
         "how many"),
    ]  # fmt: skip
    return v["O"], par, [(_fmt(t, v), key, kind) for t, key, kind in q]


def _final(names: _Names, rng: random.Random) -> tuple[str, _Paragraph, list[Question]]:
    v = {
        "A": names.club(), "B": names.club(), "cup": rng.choice(CUPS), "city": names.city(), "day": rng.choice(DAYS),
        "score": rng.choice(SCORES), "scorer": names.person("M"), "b_scorer": names.person("M"),
        "coach_b": names.person(_gender(rng)), "coach_a": names.person(_gender(rng)),
        "crowd": names.number(8000, 90000, 100), "y": names.year(1990, 2024), "stadium": f"{names.pick(ORG_WORDS)} Park",
    }  # fmt: skip
    keep = {k for k in ("scorer", "b_scorer", "coach_b", "coach_a", "crowd", "stadium") if rng.random() < 0.65}
    par = _Paragraph()
    par.say(rng.choice([
        "{A} beat {B} {score} in the {y} {cup} final in {city} on {day}.",
        "The {y} {cup} final, played in {city} on {day}, ended {A} {score} {B}.",
        "On {day} {B} lost the {y} {cup} final to {A}, {score}, in {city}.",
    ]), v, {"A": "winner", "B": "loser", "score": "score", "city": "city", "day": "day", "y": "year"})  # fmt: skip
    if "scorer" in keep:
        par.say(rng.choice(["{scorer} scored the winning goal late in the second half.",
                            "The decisive goal came from {scorer} after seventy minutes."]), v, {"scorer": "scorer"})
    if "b_scorer" in keep:
        par.say("{B} had equalised through {b_scorer} shortly before.", v, {"b_scorer": "b_scorer"})
    if "coach_b" in keep:
        par.say(rng.choice(["The losing side's coach, {coach_b}, blamed the referee.",
                            "{coach_b}, who coaches {B}, said the defeat was unlucky."]), v, {"coach_b": "coach_b"})
    if "coach_a" in keep:
        par.say("The winners are coached by {coach_a}.", v, {"coach_a": "coach_a"})
    if "crowd" in keep:
        par.say(rng.choice(["A crowd of {crowd} watched the game.", "{crowd} spectators were in the ground."]), v,
                {"crowd": "crowd"})  # fmt: skip
    if "stadium" in keep:
        par.say("The match was the last to be played at the old {stadium}.", v, {"stadium": "stadium"})
    q = [
        (rng.choice(["Who won the {y} {cup} final?", "Which team won the {cup} in {y}?"]), "winner", "which"),
        (rng.choice(["Which team lost the {y} {cup} final?", "Who were the runners-up in the {cup}?"]), "loser",
         "which"),
        (rng.choice(["What was the score in the {cup} final?", "By what score did {A} win?"]), "score", "what"),
        (rng.choice(["Where was the {cup} final played?", "In which city did {A} play {B}?"]), "city", "where"),
        (rng.choice(["On which day was the final played?", "What day did {A} beat {B}?"]), "day", "when"),
        (rng.choice(["Who scored the winning goal?", "Who scored the decisive goal for {A}?"]), "scorer", "who"),
        (rng.choice(["Who scored for {B}?", "Who scored {B}'s goal?"]), "b_scorer", "who"),
        (rng.choice(["Who coaches {B}?", "Who is the coach of the losing team?"]), "coach_b", "who"),
        (rng.choice(["Who coaches {A}?", "Who is the coach of the winning team?"]), "coach_a", "who"),
        (rng.choice(["How many people watched the final?", "How large was the crowd?"]), "crowd", "how many"),
        (rng.choice(["In which stadium was the final played?", "What was the name of the ground?"]), "stadium",
         "which"),
    ]  # fmt: skip
    return f"{v['y']} {v['cup']} final", par, [(_fmt(t, v), key, kind) for t, key, kind in q]


def _city(names: _Names, rng: random.Random) -> tuple[str, _Paragraph, list[Question]]:
    g = _gender(rng)
    v = {
        "C": names.city(), "T": names.city(), "country": names.country(), "t_country": names.country(),
        "river": names.pick(RIVERS), "pop": names.number(40000, 3000000, 1000), "t_pop": names.number(40000, 3000000, 1000),
        "mayor": names.person(g), "y_mayor": names.year(1995, 2023), "y_found": names.year(900, 1890),
        "org": names.org(), "he": _pronouns(g)["he"],
    }  # fmt: skip
    keep = {k for k in ("pop", "mayor", "founded", "employer", "twin_pop") if rng.random() < 0.7}
    par = _Paragraph()
    par.say(rng.choice(["{C} is a city in {country} on the {river} river.",
                        "{C} lies on the banks of the {river}, in the north of {country}."]), v,
            {"C": "self", "country": "country", "river": "river"})  # fmt: skip
    if "founded" in keep:
        par.say(rng.choice(["The town was founded in {y_found}.", "Its first charter dates from {y_found}."]), v,
                {"y_found": "found_year"})  # fmt: skip
    if "pop" in keep:
        par.say(rng.choice(["About {pop} people live there.", "It has a population of {pop}."]), v, {"pop": "pop"})
    if "mayor" in keep:
        par.say(rng.choice(["{mayor} was elected mayor in {y_mayor}.",
                            "Since {y_mayor} the city has been governed by {mayor}."]), v,
                {"mayor": "mayor", "y_mayor": "mayor_year"})  # fmt: skip
    if "employer" in keep:
        par.say("The largest employer in the area is {org}.", v, {"org": "employer"})
    twin = "The city is twinned with {T} in {t_country}"
    if "twin_pop" in keep:
        twin += ", a town of {t_pop}"
    par.say(twin + ".", v, {"T": "twin", "t_country": "twin_country", "t_pop": "twin_pop"})
    q = [
        (rng.choice(["In which country is {C}?", "Which country is {C} in?"]), "country", "which"),
        (rng.choice(["Which river flows through {C}?", "On which river does {C} stand?"]), "river", "which"),
        (rng.choice(["When was {C} founded?", "How old is the charter of {C}?"]), "found_year", "when"),
        (rng.choice(["How many people live in {C}?", "What is the population of {C}?"]), "pop", "how many"),
        (rng.choice(["Who is the mayor of {C}?", "Who governs {C}?"]), "mayor", "who"),
        (rng.choice(["When was the mayor of {C} elected?", "Since when has {C} had its current mayor?"]),
         "mayor_year", "when"),
        (rng.choice(["What is the largest employer in {C}?", "Which company employs the most people in {C}?"]),
         "employer", "what"),
        (rng.choice(["Which town is {C} twinned with?", "What is {C}'s twin town?"]), "twin", "which"),
        (rng.choice(["In which country is {T}?", "Which country is {C}'s twin town in?"]), "twin_country", "which"),
        (rng.choice(["How many people live in {T}?", "What is the population of {T}?"]), "twin_pop", "how many"),
        # never stated about the twin town
        (rng.choice(["Which river flows through {T}?", "On which river does {T} stand?"]), "twin_river", "which"),
        (rng.choice(["Who is the mayor of {T}?", "Who governs {T}?"]), "twin_mayor", "who"),
    ]  # fmt: skip
    return v["C"], par, [(_fmt(t, v), key, kind) for t, key, kind in q]


WRITERS = {"biography": _biography, "company": _company, "final": _final, "city": _city}


def _lengthen(par: _Paragraph, names: _Names, rng: random.Random) -> _Paragraph:
    """The same facts after three to five filler and distractor sentences: a paragraph > 128 tokens."""
    longer = _Paragraph()
    pieces = rng.sample(FILLER, k=rng.randint(2, 4))
    extra = [
        ("A second firm, {o}, opened an office in {c} in {y}.", {"o": names.org(), "c": names.city(),
                                                                 "y": names.year(1950, 2023)}),
        ("{p} wrote about it in {y}, while living in {c}.", {"p": names.person(_gender(rng)), "c": names.city(),
                                                              "y": names.year(1950, 2023)}),
        ("Visitors from {c} came every summer, about {n} of them.", {"c": names.city(),
                                                                     "n": names.number(300, 9000, 10)}),
    ]  # fmt: skip
    chosen = rng.sample(extra, k=rng.randint(1, 2))
    for sentence in pieces:
        longer.say(sentence, {})
    for template, values in chosen:
        longer.say(template, values)
    offset = len(longer.text) + 1
    longer.text = f"{longer.text} {par.text}"
    longer.facts = {k: (text, start + offset) for k, (text, start) in par.facts.items()}
    return longer


def _questions(
    questions: list[Question], par: _Paragraph, rng: random.Random, n: int
) -> list[dict[str, Any]]:
    """About two thirds answerable (the fact is stated), one third not; shuffled, at most ``n``."""
    answerable = [(t, k, kind) for t, k, kind in questions if k in par.facts]
    unanswerable = [(t, k, kind) for t, k, kind in questions if k not in par.facts]
    rng.shuffle(answerable)
    rng.shuffle(unanswerable)
    n_no = min(len(unanswerable), sum(rng.random() < UNANSWERABLE_SHARE for _ in range(n)))
    chosen = answerable[: n - n_no] + unanswerable[:n_no]
    rng.shuffle(chosen)
    rows = []
    for text, key, kind in chosen:
        if key in par.facts:
            answer, start = par.facts[key]
            assert par.text[start : start + len(answer)] == answer, (par.text, answer, start)
            rows.append({"question": text, "answers": {"text": [answer], "answer_start": [start]}, "type": kind})
        else:
            rows.append({"question": text, "answers": {"text": [], "answer_start": []}, "type": kind})
    return rows


def generate(seed: int = 13) -> dict[str, list[dict[str, Any]]]:
    """Rows per split: ``id, title, context, question, answers{text, answer_start}`` (+ ``type``, ``kind``)."""
    rng = random.Random(seed * 7919 + 8)
    pools = {
        "female": split_pool(FEMALE, rng), "male": split_pool(MALE, rng), "last": split_pool(LAST, rng),
        "city": split_pool(CITIES, rng), "country": split_pool(COUNTRIES, rng),
        "org_word": split_pool(ORG_WORDS, rng),
    }  # fmt: skip
    out: dict[str, list[dict[str, Any]]] = {}
    for split, size in SIZES.items():
        split_rng = random.Random(f"{seed}-{split}")
        split_pools = {k: v[split] for k, v in pools.items()}
        rows: list[dict[str, Any]] = []
        paragraph = 0
        while len(rows) < size:
            names = _Names(split_pools, split_rng)
            kind = KINDS[paragraph % len(KINDS)]
            title, par, questions = WRITERS[kind](names, split_rng)
            if split_rng.random() < LONG_SHARE:
                par = _lengthen(par, names, split_rng)
            n = min(size - len(rows), split_rng.randint(3, 6))
            for i, row in enumerate(_questions(questions, par, split_rng, n)):
                rows.append({"id": f"{split}-{paragraph:04d}-{i}", "title": title, "context": par.text,
                             "kind": kind, **row})  # fmt: skip
            paragraph += 1
        out[split] = rows
    return out


def squad_json(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows in the official SQuAD 2.0 layout: articles (title) > paragraphs (context) > qas."""
    articles: list[dict[str, Any]] = []
    for row in rows:
        if not articles or articles[-1]["title"] != row["title"]:
            articles.append({"title": row["title"], "paragraphs": []})
        paragraphs = articles[-1]["paragraphs"]
        if not paragraphs or paragraphs[-1]["context"] != row["context"]:
            paragraphs.append({"context": row["context"], "qas": []})
        answers = [{"text": t, "answer_start": s} for t, s in zip(row["answers"]["text"], row["answers"]["answer_start"])]
        paragraphs[-1]["qas"].append(
            {"id": row["id"], "question": row["question"], "answers": answers, "is_impossible": not answers}
        )
    return json.dumps({"version": "v2.0", "data": articles}, indent=1, ensure_ascii=False) + "\n"
