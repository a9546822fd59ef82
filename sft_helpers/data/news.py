"""The bundled NER data set: news-style sentences with PER, ORG, LOC and MISC entities (IOB2).

Sentences come from hand-written templates (business, politics, sport, culture, datelines,
headlines) whose slots are filled with entity names. The context around a slot decides its
type ("shares in X", "X told reporters", "flew to X"), so a model can infer the type of a
name it has never seen. What makes it hard, as real news is hard:

* **held-out contexts**: the templates are shuffled with the seed and split 70/15/15; a
  validation or test sentence uses a template of its own split with probability
  ``HELD_OUT_TEMPLATE_SHARE``, a context the training data never shows;
* **held-out name shapes**: each split's name pools are disjoint, and validation and test
  each have person-name patterns of their own (Arabic ``bin`` / ``al-`` names and
  Vietnamese three-part names in test; Icelandic patronymics, Thai and Russian patronymic
  names in validation), company forms (``S.A.``, ``Sdn Bhd``) and place forms
  (``X Province``) that training never shows;
* **ambiguity decided by context**: sports clubs named after their city ("Porto beat
  Lisbon 2-1 in Lisbon": two clubs, then a place), first names and surnames that are
  places (Florence, Austin, Houston, Lincoln), companies named with common words (Apple,
  Shell, Total) next to the same words as nouns (tagged O), nationalities as MISC on their
  own but inside ORG ("Portuguese Football Federation") or MISC events ("Portuguese Open");
* **nested-looking and long spans**: "Bank of Lisbon", "University of Cape Town", "Lisbon
  Stock Exchange", "National Bank of Portugal", "Jan van der Berg", "Ho Chi Minh City";
* **surface noise**: headlines in capitals, whole sentences in lower case, typos (in names
  too), entities next to punctuation (possessive ``'s``, parentheses, quotes, "Lisbon ,
  Portugal"), initials ("J. R. Tanaka"), and sentences with no entity at all.

Every label follows a fixed rule a reader can apply from the words around the name
(see the data card); none is random.
"""

from __future__ import annotations

import random
import re

from sft_helpers.data.noise import typo

TYPES = ("PER", "ORG", "LOC", "MISC")
SIZES = {"train": 3000, "validation": 500, "test": 500}
SPLIT_SHARES = {"train": 0.7, "validation": 0.15, "test": 0.15}
HELD_OUT_TEMPLATE_SHARE = 0.6  # validation / test sentences built from a template of their own split
HELD_OUT_NAME_SHARE = 0.45  # validation / test person names built with a pattern of their own split

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
# Name shapes that only one held-out split uses (drawn with HELD_OUT_NAME_SHARE there).
HELD_OUT_PEOPLE = {
    "test": {
        "arabic_first": "Abdullah Khalid Saeed Mansour Rashid Faisal Hamad Sultan Nasser Majid Zayed Tamim".split(),
        "arabic_family": "Al-Mansouri Al-Thani Al-Nahyan al-Hashimi al-Sabah Al-Qasimi al-Harbi Al-Otaibi".split(),
        "viet_family": "Nguyen Tran Le Pham Hoang Vu Dang Bui Do Ho Ngo Duong".split(),
        "viet_given": "Thanh Minh Hung Lan Huong Tuan Dung Phuong Quang Hai Linh Cuong".split(),
    },
    "validation": {
        "ice_first": "Gudrun Einar Sigrun Bjorn Ragnar Helga Olafur Thora Kristjan Asdis".split(),
        "ice_father": "Sigurdar Magnus Gunnar Jons Stefans Halldors Eiriks Olafs".split(),
        "thai_first": "Somchai Suthep Prayut Anchalee Kanya Niran Chanida Wichai".split(),
        "thai_last": "Wongsawat Chinnawat Srisuk Phongphan Rattanakorn Boonmee Thongchai".split(),
        "ru_first": "Ivan Pavel Yuri Alexei Tatiana Irina Oleg Natalia".split(),
        "ru_father": "Petrovich Ivanovich Sergeyevich Nikolayevna Pavlovna Andreyevich".split(),
    },
}
PARTICLES = ["van", "van der", "von", "de", "da", "dos", "di", "le"]
CITIES = """Lisbon Nairobi Osaka Bergen Cordoba Krakow Lyon Tampere Porto Hamburg Gdansk Seville Valencia Turin
Rotterdam Antwerp Dresden Leipzig Geneva Zurich Graz Salzburg Brno Debrecen Zadar Varna Izmir Ankara Tabriz Mashhad
Lahore Karachi Pune Chennai Kolkata Dhaka Chittagong Mandalay Hanoi Da_Nang Cebu Davao Surabaya Medan Busan Incheon
Sapporo Kyoto Nagoya Harbin Wuhan Chengdu Kunming Xiamen Perth Brisbane Hobart Auckland Wellington
Dunedin Vancouver Calgary Winnipeg Halifax Montreal Ottawa Portland Seattle Phoenix Atlanta Boston
Chicago Detroit Memphis Nashville Tucson Oakland Monterrey Guadalajara Puebla Medellin Cali Quito Lima Arequipa
Recife Salvador Curitiba Manaus Rosario Tucuman Valparaiso Montevideo Asuncion Accra Kumasi Lagos Ibadan
Kano Dakar Bamako Kampala Kigali Lusaka Harare Maputo Durban Windhoek Tunis Oran Fez Alexandria Aqaba
New_York Los_Angeles San_Francisco Rio_de_Janeiro Buenos_Aires Kuala_Lumpur Hong_Kong Cape_Town Tel_Aviv
Sao_Paulo Mexico_City Ho_Chi_Minh_City New_Delhi St._Petersburg Santa_Cruz Las_Vegas San_Diego Port_Elizabeth
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
LANGUAGES = ["Portuguese", "Spanish", "French", "German", "Arabic", "Swahili", "Japanese", "Hindi", "Polish",
             "Mandarin", "Russian", "Italian", "Turkish", "Dutch"]  # fmt: skip
ORG_WORDS = """Atlas Meridian Northwind Bluewater Kestrel Summit Crescent Vertex Halcyon Pinnacle Redwood Silverline
Granite Harbor Solstice Evergreen Ironbridge Lumen Orion Cobalt Sterling Falcon Tidewater Westfield Beacon
Cardinal Aurora Horizon Keystone Monarch Pioneer Riverside Sapphire Titan Unity Vanguard Willow Zenith Alder
Brightwater Cedar Ember Fjord Glacier Highland Juniper Kingsley Lakeshore Maple Nimbus Oakridge Polaris
Quarry Radiant Sentinel Trident Upland Valiant Whitestone Yarrow Apex Blackrock Clearview Dunmore Eastgate Foxglove
Goldcrest Hawthorn Inland Jadeport Kinross Lodestar Mariner Northgate Osprey Pembroke Quayside Rosewood
Stonehaven Thornbury Umber Vireo Wexford""".split()
COMPANY_SUFFIXES = ["Group", "Holdings", "Industries", "Bank", "Airlines", "Motors", "Energy", "Technologies",
                    "Pharmaceuticals", "Media", "Insurance", "Capital", "Logistics", "Foods", "Telecom", "Steel",
                    "Mining", "Corp", "Inc", "Ltd"]  # fmt: skip
HELD_OUT_COMPANY_SUFFIXES = {
    "test": ["S.A.", "Sdn Bhd", "AG", "NV"],
    "validation": ["GmbH", "SpA", "Oyj", "PLC"],
}
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
HELD_OUT_EVENT_PATTERNS = {
    "test": ["{CITY} Accord", "{NAT} Cup"],
    "validation": ["{CITY} Biennale", "{NAT} Classic"],
}
REGION_PATTERNS = ["Lake {W}", "Mount {W}"]
HELD_OUT_REGION_PATTERNS = {"test": ["{W} Province", "Gulf of {W}"], "validation": ["{W} Valley", "Cape {W}"]}
REGION_WORDS = """Kivu Tana Elgon Meru Ohrid Bled Toba Taal Atitlan Titicaca Natron Malawi Batur Kinabalu Aso Fuji
Tahoe Louise Bogoria Baringo Ruapehu Cook Logan Kenya Sinai Hermon Olympus Kazbek Ararat Etna""".split()
TITLE_WORDS = """Silent River Last Winter Broken Glass Red Harvest Northern Lights Quiet Hours Paper Moon Long Road
Blue Hour Salt Water Golden Fields Night Train Open Sea Second Spring Stone Garden Falling Rain White Nights
Distant Shore Hidden Valley Iron Sky Burning Bridges Empty Rooms Wild Horses Cold Heart Lost City Summer Storm
Black Swan Green Door Hollow Crown Silver Lining Dark Water Small Mercies Bright Morning Deep Forest Velvet
Thunder Honey Ashes Lantern Orchard Harbour Mirror Echo Feather Compass""".split()
PARTY_FORMS = ["{NAT} People 's Party", "Social Democratic Party", "National Liberal Party", "{NAT} Labour Party",
               "Green Alliance", "Democratic Union"]  # fmt: skip
PAPER_FORMS = ["{CITY} Herald", "{CITY} Times", "{CITY} Gazette", "{CITY} Daily News"]
# Places that recur in every split's news, as they do in real wires.
COMMON_PLACES = ["London", "Berlin", "Tokyo", "Moscow", "Beijing", "China", "Russia", "United States", "Britain",
                 "Australia", "U.S."]  # fmt: skip
COMMON_ORGS = ["Reuters", "United Nations", "European Union", "NATO", "World Bank", "Red Cross",
               "International Monetary Fund"]  # fmt: skip

# Ambiguous names, shared by every split: the context decides the type.
AMBIGUOUS = {
    "PER_FIRST": ["Jordan", "Paris", "Chelsea", "Georgia", "Sydney", "Victoria", "Florence", "Austin", "Adelaide",
                  "Charlotte", "Orlando", "Regina", "Savannah", "Dallas"],
    "PER_LAST": ["Jordan", "Washington", "Lincoln", "Kent", "Houston", "Jackson", "Chester", "Berlin", "London",
                 "Denver"],
    "LOC": ["Jordan", "Washington", "Paris", "Georgia", "Sydney", "Victoria", "Turkey", "Chad", "Lincoln", "Kent",
            "Florence", "Austin", "Adelaide", "Charlotte", "Orlando", "Regina", "Savannah", "Dallas", "Houston",
            "Jackson", "Chester", "Denver"],
    "ORG": ["Apple", "Amazon", "Orange", "Chelsea", "Shell", "Jaguar", "Total", "Puma", "Mercury", "Next",
            "Virgin", "Delta", "Target", "Sky", "Gap"],
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
    "Total sales rose {NUM} percent in the quarter",
    "Total output fell for the {NUM}th month in a row",
    "A puma was seen near a school in {CITY} on {DAY}",
    "The next round of talks will start on {DAY}",
    "Mercury levels in the river were {NUM} times the limit",
    "The delta of the river flooded again this spring",
    "Shell companies were used to move the money , police said",
    "Virgin forest covers most of the north of {COUNTRY}",
    "The target for growth was cut to {NUM} percent",
    "The sky over {CITY} turned grey before the storm",
    "The gap between rich and poor in {COUNTRY} grew again",
    "Shell fragments were found near the border , {PER} said",
    "Next year the tax on fuel will rise by {NUM} percent",
    "Total debt reached {NUM} billion dollars , the {ROLE} said",
    "The next match is against a team from {CITY}",
    "Apple growers in {COUNTRY} expect a record harvest",
]
# Sentences with no entity at all (capitalised words, numbers, titles, but no name).
NO_ENTITY_SENTENCES = [
    "The central bank left interest rates unchanged on {DAY}",
    "Prices rose {NUM} percent in the year to {MONTH}",
    "The Prime Minister said the Government would not resign",
    "Shares closed higher in thin trading",
    "The company said it expected sales to grow next year",
    "Rain is expected in the north on {DAY}",
    "The coach said his players were tired after the match",
    "Parliament will vote on the budget in {MONTH}",
    "The President told reporters the talks had been useful",
    "Police said {NUM} people were injured in the crash",
    "The Minister of Finance declined to comment",
    "Analysts said the figures were better than expected",
    "The final will be played on {DAY} evening",
    "Half-time : {SCORE}",
    "Attendance : {NUM}",
    "The Chairman and the Board will meet in {MONTH}",
    "The mayor told reporters in the capital that the talks had failed",
    "Shares in the company fell {NUM} percent on {DAY}",
    "The striker scored twice as the home side won {SCORE}",
    "Fans of the club celebrated in the streets until dawn",
    "She was born in a small village and moved to the city as a child",
    "Analysts at the bank expect the economy to grow next year",
    "The court fined the firm {NUM} million euros",
    "The new coach praised his players after the game",
]

ROLES = ["chief executive", "finance minister", "spokesman", "spokeswoman", "chairman", "coach", "president",
         "foreign minister", "mayor", "director", "prime minister", "chief economist", "striker", "captain"]  # fmt: skip
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "March", "April", "June", "August", "September", "October", "December"]
NUMBERS = ["2", "3", "4", "5", "7", "10", "12", "15", "20", "25", "40", "150", "300", "1,200"]
AGES = ["19", "24", "31", "37", "45", "52", "68"]
YEARS = ["two", "three", "four", "five", "2", "3"]
SCORES = ["1-0", "2-1", "3-1", "2-2", "0-0", "4-2", "3-0", "1-1"]

# Templates: one sentence without its final period. Slots: {PER} full name, {LAST} surname,
# {ORG} company, {CLUB} sports club (often just a city's name), {LOC} city or country, {CITY},
# {COUNTRY}, {REGION} (lake, mountain, province: LOC), {NAT} nationality (MISC), {EVENT} (MISC),
# {LANG} language (MISC), {TITLE} a film or book title (MISC), {PARTY}, {PAPER} (ORG);
# {ROLE} {DAY} {MONTH} {NUM} {SCORE} {AGE} {YEARS} are plain words.
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
{CLUB} beat {CLUB} {SCORE} in {CITY} on {DAY}
{CLUB} lost {SCORE} at home to {CLUB}
{CLUB} , who beat {CLUB} last week , are top of the table
{CITY} mayor {PER} said the city would build {NUM} new schools
{CLUB} striker {PER} was sent off in the {NUM}th minute
Supporters of {CLUB} marched from the stadium to the centre of {CITY}
{ORG} 's chief executive {PER} resigned on {DAY}
{ORG} 's shares rose {NUM} percent in {CITY}
{PER} 's lawyer said the case against {ORG} had no merit
{CITY} , {COUNTRY} , was hit by a storm on {DAY}
The {PAPER} reported that {PER} would resign
{PER} told the {PAPER} that {ORG} was in talks with {ORG}
The {PARTY} won {NUM} seats in the {NAT} parliament
{PER} , leader of the {PARTY} , called for new elections
{PER} spoke in {LANG} at the meeting in {CITY}
The novel " {TITLE} " by {PER} won the prize
The film " {TITLE} " opened the {EVENT}
{PER} 's new album {TITLE} sold {NUM} copies in its first week
{PER} wrote {TITLE} while living in {CITY}
{TITLE} , the new film by {PER} , opens on {DAY}
Tourists flock to {REGION} every summer
Fishermen on {REGION} said the catch had fallen
The road to {REGION} was closed by snow
( {ORG} ) shares were unchanged in early trading
{PER} ( {COUNTRY} ) won the race in {NUM} minutes
{ORG} ( {CITY} ) said it would appeal
{PER} , {AGE} , was named coach of {CLUB}
The {NAT} Football Federation fined {CLUB} {NUM} euros
Bank of {CITY} raised its forecast for growth in {COUNTRY}
{ORG} bought a stake in the {CITY} Stock Exchange
National Bank of {COUNTRY} said inflation would fall
The University of {CITY} and {ORG} will build a research centre
{COUNTRY} Airways cancelled {NUM} flights on {DAY}
{PER} , a student at the University of {CITY} , won the {EVENT}
Dr {LAST} of the University of {CITY} said the vaccine was safe
Officials from the {NAT} Ministry of Foreign Affairs met {PER}
{PER} and his brother {PER} run a bakery in {CITY}
The {NAT} striker {PER} moved from {CLUB} to {CLUB}
{CLUB} fans were angry after the defeat in {CITY}
Rescue teams from {COUNTRY} reached {CITY} on {DAY}
{PER} , who was born in {CITY} , now lives in {COUNTRY}
In {MONTH} , {PER} became the first woman to lead {ORG}
{ORG} and the {NAT} government signed a deal worth {NUM} million
Tickets for the {EVENT} in {CITY} sold out in a day
The {NAT} singer {PER} will perform in {CITY} in {MONTH}
{PER} will face {PER} in the semi-final of the {EVENT}
Residents of {CITY} were told to stay indoors
A spokesman for the {NAT} embassy in {CITY} said {PER} was safe
{ORG} , the {NAT} carmaker , recalled {NUM} cars
{PER} left {ORG} after {YEARS} years to join {ORG}
{CITY} will host the {EVENT} for the first time
Talks in {CITY} between {COUNTRY} and {COUNTRY} ended without a deal
{PER} thanked the fans of {CLUB} after his last game
The match between {CLUB} and {CLUB} was postponed
Officials in {CITY} said the water was safe to drink
{ORG} hired {PER} , a former {ROLE} of {ORG}
{CLUB} , unbeaten in {NUM} games , travel to {CLUB} on {DAY}
{CLUB} said on {DAY} that they had signed {PER} from {CLUB}
{LAST} scored in the {NUM}th minute to give {CLUB} the lead
{LAST} , the {ROLE} , said the plan would cost {NUM} million
{LAST} , who lives in {CITY} , denied the charges
{CLUB} and {CLUB} meet in {CITY} on {DAY}
{PER} , who coached {CLUB} for {YEARS} years , died in {CITY}
The stadium in {CITY} , home of {CLUB} , will be rebuilt
{CITY} council said {CLUB} could stay at the stadium
{ORG} sponsors {CLUB} and the {EVENT}
The {NAT} Open was moved from {CITY} to {CITY}
{PER} , the {NAT} {ROLE} of {ORG} , was fired on {DAY}
{CITY} hosted {CLUB} in front of {NUM} fans
{COUNTRY} beat {COUNTRY} in the vote to host the {EVENT}
{LAST} told the court in {CITY} that {LAST} had lied
Delegates from {COUNTRY} walked out of the talks in {CITY}
{PER} met {PER} at the {NAT} embassy in {COUNTRY}
{ORG} moved its headquarters from {CITY} to {CITY}
{CLUB} 's {NAT} coach {PER} was sacked on {DAY}
The {PAPER} said {CLUB} would sell {LAST}
{LAST} returned to {CITY} on {DAY}
{LAST} beat {LAST} {SCORE} {SCORE} to reach the final
{CITY} gave {LAST} a hero 's welcome
{LAST} and {LAST} will meet in {CITY} next week
Crowds in {CITY} cheered {LAST} after the race
{LAST} said {CITY} was the best place to live
{LAST} was not available for comment
Asked about {ORG} , {LAST} said nothing
{COUNTRY} , {COUNTRY} and {COUNTRY} voted against the plan
{CLUB} {NUM} {CLUB} {NUM}
1. {PER} ( {COUNTRY} ) {NUM} points
Winner : {PER} ( {CLUB} )
{LAST} replaced {LAST} after half an hour
{ORG} , {ORG} and {ORG} led the market higher
Leading scorer : {LAST} ( {CLUB} ) {NUM}
{LAST} , {LAST} and {LAST} were left out of the squad
""".strip().splitlines()

HEADLINES = [
    "SOCCER - {CLUB} BEAT {CLUB} {SCORE}",
    "SOCCER - {CLUB} HOLD {CLUB} TO {SCORE} DRAW",
    "TENNIS - {PER} WINS {EVENT}",
    "GOLF - {PER} LEADS {EVENT}",
    "BUSINESS - {ORG} TO CUT {NUM} JOBS",
    "{ORG} PROFIT RISES {NUM} PERCENT",
    "{COUNTRY} ELECTION RESULTS",
    "{NAT} SHARES CLOSE HIGHER",
    "{PER} TO VISIT {COUNTRY} NEXT WEEK",
    "STORM HITS {CITY} , {NUM} DEAD",
    "MARKETS CLOSE LOWER",
    "RESULTS OF {NAT} LEAGUE MATCHES",
]
SUFFIXES = [" , {ORG} reported", " , officials said", " , a spokesman for {ORG} said", " , according to {PER}",
            " , {PER} told reporters", " , sources in {CITY} said", " , the {PAPER} reported", ""]  # fmt: skip
PREFIXES = ["On {DAY} , ", "Earlier this week , ", "In a statement , ", "Meanwhile , ", "In {CITY} , ",
            "In {MONTH} , "]  # fmt: skip


def split_pool(names: list[str], rng: random.Random) -> dict[str, list[str]]:
    """Shuffle ``names`` and cut it 70/15/15 into train, validation and test pools."""
    names = sorted(set(names))
    rng.shuffle(names)
    n_train = round(len(names) * SPLIT_SHARES["train"])
    n_val = round(len(names) * SPLIT_SHARES["validation"])
    return {"train": names[:n_train], "validation": names[n_train : n_train + n_val],
            "test": names[n_train + n_val :]}  # fmt: skip


def split_templates(templates: list[str], rng: random.Random) -> dict[str, list[str]]:
    """Like ``split_pool`` but keeps the templates' order inside each part (ids stay stable)."""
    order = list(range(len(templates)))
    rng.shuffle(order)
    n_train = round(len(order) * SPLIT_SHARES["train"])
    n_val = round(len(order) * SPLIT_SHARES["validation"])
    parts = {
        "train": order[:n_train],
        "validation": order[n_train : n_train + n_val],
        "test": order[n_train + n_val :],
    }
    return {split: [templates[i] for i in sorted(ids)] for split, ids in parts.items()}


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
        self.split = split
        self.rng = rng
        self.held_out_name = False  # set when a name of this sentence used a held-out shape

    def _pick(self, key: str) -> str:
        return self.rng.choice(self.pools[key])

    def _held_out(self) -> bool:
        return self.split != "train" and self.rng.random() < HELD_OUT_NAME_SHARE

    def person(self) -> list[str]:
        rng = self.rng
        if self._held_out():
            self.held_out_name = True
            return self._held_out_person()
        r = rng.random()
        first = self._pick("first") if r > 0.15 else rng.choice(AMBIGUOUS["PER_FIRST"])
        last = self._pick("last") if r < 0.88 else rng.choice(AMBIGUOUS["PER_LAST"])
        shape = rng.random()
        if shape < 0.08:  # a second surname: "Ana Sousa Herrera"
            second = self._pick("last")
            return [first, last, second] if second != last else [first, last]
        if shape < 0.18:  # a particle: "Jan van der Berg", "Ana de Sousa"
            return [first, *rng.choice(PARTICLES).split(), last]
        if shape < 0.25:  # initials: "J. R. Tanaka", "Maria K. Silva"
            if rng.random() < 0.5:
                return [f"{first[0]}.", f"{self._pick('first')[0]}.", last]
            return [first, f"{self._pick('first')[0]}.", last]
        if shape < 0.29:  # a hyphenated surname
            return [first, f"{last}-{self._pick('last')}"]
        return [first, last]

    def _held_out_person(self) -> list[str]:
        rng, p = self.rng, HELD_OUT_PEOPLE[self.split]
        kind = rng.random()
        if self.split == "test":
            if kind < 0.5:  # "Abdullah bin Rashid Al-Mansouri", "Khalid al-Hashimi"
                first = rng.choice(p["arabic_first"])
                if rng.random() < 0.5:
                    return [first, "bin", rng.choice(p["arabic_first"]), rng.choice(p["arabic_family"])]
                return [first, rng.choice(p["arabic_family"])]
            given = rng.choice(p["viet_given"])  # "Nguyen Van Thanh", "Tran Thi Lan": family name first
            return [rng.choice(p["viet_family"]), rng.choice(["Van", "Thi", "Duc", "Ngoc"]), given]
        if kind < 0.4:  # "Gudrun Sigurdardottir", "Einar Magnusson"
            suffix = rng.choice(["sson", "dottir"])
            return [rng.choice(p["ice_first"]), rng.choice(p["ice_father"]) + suffix]
        if kind < 0.7:
            return [rng.choice(p["thai_first"]), rng.choice(p["thai_last"])]
        return [rng.choice(p["ru_first"]), rng.choice(p["ru_father"]), self._pick("last")]

    def last(self) -> list[str]:
        return [self._pick("last") if self.rng.random() > 0.25 else self.rng.choice(AMBIGUOUS["PER_LAST"])]

    def org(self) -> list[str]:
        rng = self.rng
        r = rng.random()
        if r < 0.17:
            return [rng.choice(AMBIGUOUS["ORG"])]
        if r < 0.16:
            return _words(rng.choice(COMMON_ORGS))
        if r < 0.5:
            suffixes = COMPANY_SUFFIXES
            if self.split != "train" and rng.random() < 0.5:
                self.held_out_name = True
                suffixes = HELD_OUT_COMPANY_SUFFIXES[self.split]
            return [self._pick("org_word"), *rng.choice(suffixes).split()]
        if r < 0.62:
            return [self._pick("last"), rng.choice(COMPANY_SUFFIXES)]
        if r < 0.72:  # nested-looking: "Bank of Lisbon", "University of Cape Town"
            return [rng.choice(["Bank", "University"]), "of", *_words(self._pick("city"))]
        if r < 0.78:  # a place inside a company: "Lisbon Telecom", "Kenya Airways"
            place = self._pick("city") if rng.random() < 0.5 else self._pick("country")
            return [*_words(place), rng.choice(["Airways", "Telecom", "Power", "Breweries", "Railways"])]
        if r < 0.88:
            return [self._pick("acronym")]
        if r < 0.94:  # "Northwind & Kestrel"
            return [self._pick("org_word"), "&", self._pick("org_word")]
        return [self._pick("org_word"), self._pick("org_word")]

    def club(self) -> list[str]:
        r = self.rng.random()
        if r < 0.08:
            return ["Chelsea"]
        if r < 0.5:  # a club named just like its city, as "Porto" or "Lyon" are
            return _words(self._pick("city"))
        return [*_words(self._pick("city")), self.rng.choice(CLUB_SUFFIXES)]

    def _place(self, pool: str) -> list[str]:
        r = self.rng.random()
        if r < 0.12:
            return [self.rng.choice(AMBIGUOUS["LOC"])]
        if r < 0.25:
            return _words(self.rng.choice(COMMON_PLACES))
        return _words(self._pick(pool))

    def city(self) -> list[str]:
        return self._place("city")

    def country(self) -> list[str]:
        return self._place("country")

    def region(self) -> list[str]:
        rng = self.rng
        patterns = REGION_PATTERNS
        if self.split != "train" and rng.random() < 0.5:
            self.held_out_name = True
            patterns = HELD_OUT_REGION_PATTERNS[self.split]
        return _words(rng.choice(patterns).replace("{W}", self._pick("region")))

    def event(self) -> list[str]:
        rng = self.rng
        if rng.random() < 0.3:
            return _words(rng.choice(EVENTS_FIXED))
        patterns = EVENT_PATTERNS
        if self.split != "train" and rng.random() < 0.5:
            self.held_out_name = True
            patterns = HELD_OUT_EVENT_PATTERNS[self.split]
        pattern = rng.choice(patterns)
        return _words(pattern.replace("{NAT}", self._pick("nat")).replace("{CITY}", self._pick("city")))

    def title(self) -> list[str]:
        n = self.rng.choice([2, 2, 3])
        words = self.rng.sample(self.pools["title"], n)
        return ["The", *words] if self.rng.random() < 0.3 else words

    def _form(self, forms: list[str]) -> list[str]:
        form = self.rng.choice(forms)
        return _words(form.replace("{NAT}", self._pick("nat")).replace("{CITY}", self._pick("city")))

    def fill(self, slot: str) -> tuple[list[str], str | None]:
        """The tokens for ``slot`` and their entity type (None for plain words)."""
        rng = self.rng
        plain = {"ROLE": ROLES, "DAY": DAYS, "MONTH": MONTHS, "NUM": NUMBERS, "SCORE": SCORES, "AGE": AGES,
                 "YEARS": YEARS}  # fmt: skip
        if slot in plain:
            return rng.choice(plain[slot]).split(), None
        if slot == "LOC":
            slot = rng.choice(["CITY", "COUNTRY"])
        makers = {"PER": (self.person, "PER"), "LAST": (self.last, "PER"), "ORG": (self.org, "ORG"),
                  "CLUB": (self.club, "ORG"), "CITY": (self.city, "LOC"), "COUNTRY": (self.country, "LOC"),
                  "REGION": (self.region, "LOC"), "NAT": (lambda: [self._pick("nat")], "MISC"),
                  "EVENT": (self.event, "MISC"), "LANG": (lambda: [rng.choice(LANGUAGES)], "MISC"),
                  "TITLE": (self.title, "MISC"), "PARTY": (lambda: self._form(PARTY_FORMS), "ORG"),
                  "PAPER": (lambda: self._form(PAPER_FORMS), "ORG")}  # fmt: skip
        if slot not in makers:
            raise ValueError(f"template slot {{{slot}}} is unknown")
        make, kind = makers[slot]
        return make(), kind


_SLOT = re.compile(r"^\{([A-Z]+)\}$")
_INNER_SLOT = re.compile(r"\{(NUM|DAY|AGE|YEARS|MONTH)\}")


def _glue(template: str) -> list[str]:
    """Split a template into pieces; a glued entity ("Bank of {CITY}") becomes one ``[[ORG:...]]`` piece."""
    out: list[str] = []
    text = template
    for name, kind in (("Bank of {CITY}", "ORG"), ("National Bank of {COUNTRY}", "ORG"),
                       ("University of {CITY}", "ORG"), ("{COUNTRY} Airways", "ORG"),
                       ("{CITY} Stock Exchange", "ORG"), ("{NAT} Football Federation", "ORG"),
                       ("{NAT} Ministry of Foreign Affairs", "ORG"), ("{NAT} Open", "MISC")):  # fmt: skip
        text = text.replace(name, f"[[{kind}:{name.replace(' ', '~')}]]")
    for piece in text.split():
        out.append(piece.replace("~", " ") if piece.startswith("[[") else piece)
    return out


def render(template: str, filler: _Filler) -> tuple[list[str], list[str]]:
    """Tokens and IOB2 tags of one filled template."""
    tokens: list[str] = []
    tags: list[str] = []
    for piece in _glue(template):
        if piece.startswith("[["):  # a glued entity: its slot's words and the fixed words form one entity
            kind, inner = piece[2:-2].split(":", 1)
            words: list[str] = []
            for part in inner.split():
                m = _SLOT.match(part)
                words.extend(filler.fill(m.group(1))[0] if m else [part])
            tokens.extend(words)
            tags.extend([f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1))
            continue
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


_KEEP_CASE = ("Bank", "National", "Mr", "Ms", "Dr", "President")


def _lower_first(template: str) -> str:
    first, _, rest = template.partition(" ")
    if first.startswith("{") or first.startswith("(") or first.isupper() or first in _KEEP_CASE:
        return template
    return f"{first.lower()} {rest}"


def sentence(
    rng: random.Random, filler: _Filler, templates: list[str], held_out: list[str]
) -> tuple[list[str], list[str], str, bool]:
    """One tagged sentence, the id of its pattern, and whether its template is held out of train.

    ``templates`` are the training templates, ``held_out`` this split's own (empty for train).
    """
    r = rng.random()
    if r < 0.07:
        i = rng.randrange(len(HEADLINES))
        tokens, tags = render(HEADLINES[i], filler)
        return [t.upper() for t in tokens], tags, f"headline{i}", False
    if r < 0.10:  # a dateline, as in news wires: "LISBON 1996-08-22"
        tokens, tags = render("{CITY}", filler)
        date = f"{rng.choice(['1996', '1997'])}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        return [t.upper() for t in tokens] + [date], tags + ["O"], "dateline", False
    if r < 0.17:
        i = rng.randrange(len(COMMON_NOUN_SENTENCES))
        tokens, tags = render(COMMON_NOUN_SENTENCES[i], filler)
        return tokens + ["."], tags + ["O"], f"noun{i}", False
    if r < 0.23:
        i = rng.randrange(len(NO_ENTITY_SENTENCES))
        tokens, tags = render(NO_ENTITY_SENTENCES[i], filler)
        return tokens + ["."], tags + ["O"], f"none{i}", False
    is_held_out = bool(held_out) and rng.random() < HELD_OUT_TEMPLATE_SHARE
    template = rng.choice(held_out if is_held_out else templates)
    pattern = f"t{TEMPLATES.index(template)}"
    if rng.random() < 0.2:
        j = rng.randrange(len(PREFIXES))
        template = PREFIXES[j] + _lower_first(template)
        pattern += f"p{j}"
    if rng.random() < 0.3:
        j = rng.randrange(len(SUFFIXES))
        template += SUFFIXES[j]
        pattern += f"s{j}"
    tokens, tags = render(template + " .", filler)
    return tokens, tags, pattern, is_held_out


def _add_noise(tokens: list[str], tags: list[str], rng: random.Random) -> tuple[list[str], str | None]:
    """Lower-case the whole sentence, or put a typo in one word (an entity's word half the time)."""
    r = rng.random()
    if r < 0.1:
        return [t.lower() for t in tokens], "lowercase"
    if r < 0.24:
        tokens = list(tokens)
        inside = [i for i, t in enumerate(tags) if t != "O" and len(tokens[i]) >= 4]
        i = rng.choice(inside) if inside and rng.random() < 0.7 else rng.randrange(len(tokens))
        old, tokens[i] = tokens[i], typo(tokens[i], rng)
        return tokens, "typo" if tokens[i] != old else None
    return tokens, None


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
        "region": split_pool(REGION_WORDS, rng),
        "title": split_pool(TITLE_WORDS, rng),
    }


def generate(seed: int = 13) -> dict[str, list[dict]]:
    """All three splits as lists of rows.

    Each row: ``tokens``, ``tags`` (IOB2 strings), ``pattern`` (template id plus affixes),
    ``noise`` (True when lower-cased or with a typo), ``noise_kind`` (``"lowercase"``,
    ``"typo"`` or None), ``held_out`` (True when the sentence uses a template or a name shape
    that only its own split has).
    """
    rng = random.Random(seed)
    pools = make_pools(rng)
    template_parts = split_templates(TEMPLATES, rng)
    out: dict[str, list[dict]] = {}
    for split, size in SIZES.items():
        filler = _Filler(pools, split, rng)
        held_out = template_parts[split] if split != "train" else []
        rows = []
        for _ in range(size):
            filler.held_out_name = False
            tokens, tags, pattern, held_template = sentence(rng, filler, template_parts["train"], held_out)
            tokens, noise_kind = _add_noise(tokens, tags, rng)
            rows.append({"tokens": tokens, "tags": tags, "pattern": pattern, "noise": noise_kind is not None,
                         "noise_kind": noise_kind, "held_out": held_template or filler.held_out_name})  # fmt: skip
        out[split] = rows
    return out


def sentence_metadata(split: str, seed: int = 13) -> list[dict]:
    """What the generator knows about each sentence of a bundled split, in file order.

    One dict per sentence: ``pattern``, ``noise_kind`` (``"lowercase"``, ``"typo"`` or None),
    ``held_out`` (a template or name shape only this split has) and ``tokens`` (to check the
    alignment with ``load_ner()``). ``seed`` must be the one the bundled files were made with
    (13, ``sft_helpers.data.generate.SEED``).
    """
    if split not in SIZES:
        raise ValueError(f"split must be one of {list(SIZES)}, got {split!r}.")
    return [{k: r[k] for k in ("tokens", "pattern", "noise_kind", "held_out")} for r in generate(seed)[split]]
