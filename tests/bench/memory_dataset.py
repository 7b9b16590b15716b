"""Generator of the memory benchmark set: long, dated, multi-session group conversations with annotated questions.

Written apart from the retrieval code and never tuned against it. Each conversation has three or four people who
meet in 16-20 dated sessions. Every person has a life spread over the sessions: a pet, a sibling, a job, two
hobbies mentioned several times in different words, three trips, a three-step story (a race, a move, a job hunt
...), sometimes children. Around these, the others react, ask, and chat about the same kinds of things (their own
pets and trips, places they only wish to visit), and plain small talk fills the sessions.

Questions come in four kinds, each with the turn ids that hold the answer (evidence):

- ``single-hop``: one fact from one turn ("What does Maya call her new cat?").
- ``multi-hop``: facts spread over several sessions ("Which places has Maya travelled to?").
- ``temporal``: when something happened, told with a date relative to its session ("last weekend"), or what
  happened in a named month.
- ``open-domain``: an inference from several turns ("Would Maya enjoy a weekend of scaling rock walls?").

Questions are paraphrased: they name the person and the topic in other words than the evidence does.

Run ``python -m tests.bench.memory_dataset [--out FILE] [--seed N]`` to (re)write ``tests/data/memory_bench.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_PATH", "build", "load"]

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "data" / "memory_bench.json"

NAMES = [
    "Maya", "Tom", "Priya", "Lukas", "Sofia", "Daniel", "Aiko", "Marco", "Elena", "Jonas", "Nadia", "Owen",
    "Chloe", "Rafael", "Ingrid", "Samuel", "Leila", "Victor", "Hannah", "Mateo", "Yara", "Felix", "Clara",
    "Kofi", "Zara", "Ethan", "Mei", "Oscar", "Amara", "Henrik", "Lucia", "Dev", "Freya", "Tariq", "Nina",
    "Caleb", "Rosa", "Anton", "Imani", "Pablo",
]

# relative phrase -> days before the session date (None: the weekend before, resolved by weekday)
RELATIVE = [("yesterday", 1), ("two days ago", 2), ("last weekend", None), ("earlier this week", 3),
            ("a few days ago", 4), ("last Saturday", None), ("the other day", 2)]

PETS = [  # kind, generic word used in questions, pronoun
    ("beagle puppy", "dog", "him"), ("tabby kitten", "cat", "her"), ("grey parrot", "bird", "him"),
    ("lop-eared rabbit", "bunny", "her"), ("corgi", "dog", "her"), ("black kitten", "cat", "him"),
    ("border collie", "dog", "him"), ("pair of goldfish", "fish", "them"),
]
PET_NAMES = ["Biscuit", "Mochi", "Pepper", "Tofu", "Juniper", "Waffles", "Ziggy", "Clementine", "Basil", "Nori",
             "Pickles", "Luna"]
PET_LINES = [
    "We adopted a {kind} from the shelter {rel}! We named {pron} {pname}.",
    "Big news, {rel} we brought home a {kind}. {pname} has already chewed a shoe.",
]
PET_QUESTIONS = ["What does {p} call the {generic} that joined the household?",
                 "What is the name of the {generic} {p} took in?"]
PET_WHEN = ["When did {p} get the {generic}?", "When did {p}'s {generic} come home with them?"]

SIBLINGS = [("sister", "sibling"), ("brother", "sibling"), ("cousin", "relative")]
SIBLING_JOBS = [("just qualified as a paramedic", "emergency medical work"),
                ("opened a tiny ramen shop downtown", "running a restaurant"),
                ("got hired as a park ranger", "looking after a nature reserve"),
                ("teaches chemistry at a high school", "teaching science"),
                ("is now a pilot for a regional airline", "flying planes"),
                ("started a furniture restoration business", "fixing up old furniture")]
SIBLING_LINES = ["My {rel} {sname} {job}, we are all so proud.", "Fun fact: my {rel} {sname} {job}."]
SIBLING_QUESTIONS = ["What does {p}'s {relword} {sname} do for a living?",
                     "What line of work is {sname}, {p}'s {relword}, in?"]

JOBS = [("I've been a nurse at the children's hospital for six years now", "What is {p}'s profession?"),
        ("my shift at the bakery starts at 4am, the price of making croissants", "Where does {p} work early mornings?"),
        ("being the only accountant at a small law firm means tax season is brutal", "What is {p}'s occupation?"),
        ("I'm a software developer, mostly backend stuff for a logistics company", "What does {p} do for work?"),
        ("as a primary school teacher I get the whole summer, but I earn it", "What job does {p} have?"),
        ("the architecture firm put me on the new library project", "Which profession is {p} in?"),
        ("I drive the night bus on route 7, it's quiet but I like it", "How does {p} earn a living?"),
        ("lab work again today, the microscope and I are best friends", "What kind of job does {p} do?")]

HOBBIES: list[dict[str, Any]] = [
    {"lines": ["Spent the whole Saturday at the bouldering gym, finally sent the purple route.",
               "My fingertips are wrecked, too many crimps on the wall {rel}.",
               "Ordered new climbing shoes, my old pair has holes in the toes."],
     "open": "Would {p} enjoy a weekend of scaling rock faces in the mountains?"},
    {"lines": ["I finished a watercolor of the harbor {rel}, the sky came out muddy though.",
               "Picked up a set of sable brushes, they hold so much pigment.",
               "The art class had us painting still lifes, I did a bowl of lemons."],
     "open": "Would {p} appreciate an art supplies voucher as a present?"},
    {"lines": ["My sourdough starter is finally bubbly, I fed it twice {rel}.",
               "Baked cinnamon rolls for the neighbours, the dough rose perfectly.",
               "Tried a rye loaf, way too dense, back to the oven tomorrow."],
     "open": "Is {p} the kind of person who likes making things in the kitchen from flour and yeast?"},
    {"lines": ["The tomatoes on my balcony are turning red at last.",
               "Spent {rel} repotting basil and mint, soil everywhere.",
               "Planted tulip bulbs along the fence, fingers crossed for spring."],
     "open": "Does {p} seem like someone who enjoys growing things?"},
    {"lines": ["Did a 10k along the river {rel}, new personal best.",
               "My knees hate the downhill parts of the trail run.",
               "Bought new trainers, the old ones had 800 km on them."],
     "open": "Would {p} sign up for a charity jog through the city?"},
    {"lines": ["Lost three blitz games in a row online {rel}, my openings are a mess.",
               "Joined the club tournament, I'm playing the Sicilian every game.",
               "Finally beat my uncle at chess after ten years of trying."],
     "open": "Would {p} like to join a strategy board game evening?"},
    {"lines": ["Shot a whole roll of film at the market {rel}, can't wait to develop it.",
               "Got a used 50mm lens, the portraits are so sharp.",
               "Woke up at 5 to catch the sunrise over the bay with my camera."],
     "open": "Would a gift related to taking pictures suit {p}?"},
    {"lines": ["Learned the F chord on guitar {rel}, my fingers are screaming.",
               "Our little band played an open mic, I only missed two chords.",
               "Changed the strings on my acoustic, it sounds brand new."],
     "open": "Does {p} make music, and would tickets to a gig suit them?"},
    {"lines": ["Rode 100 km on the road bike {rel}, my legs are jelly.",
               "Fixed a flat in the pouring rain, cycling life.",
               "Joined a group ride on Sunday mornings, the pace is brutal."],
     "open": "Would {p} enjoy touring the countryside on two wheels?"},
    {"lines": ["Made green curry from scratch {rel}, the paste took an hour.",
               "I can't handle food without chili anymore, everything tastes bland.",
               "Found a stall that sells fresh lemongrass and galangal."],
     "open": "What kind of restaurant would {p} pick for a dinner out?"},
    {"lines": ["Finished a 700-page space opera {rel}, the ending broke me.",
               "Re-reading the Foundation books on my commute.",
               "The bookshop had a whole shelf of new science fiction, I bought four."],
     "open": "Which genre of novels would make a good present for {p}?"},
    {"lines": ["Morning yoga on the balcony {rel}, my back feels so much better.",
               "Ten minutes of meditation before work keeps me sane.",
               "Signed up for a silent retreat weekend, no phones allowed."],
     "open": "Would {p} be interested in a mindfulness getaway?"},
    {"lines": ["Saw a kingfisher at the pond {rel}, electric blue!",
               "My binoculars are the best thing I bought this year.",
               "Counting sparrows in the garden for the annual survey."],
     "open": "Would {p} like a trip to a wetland nature reserve to spot wildlife?"},
    {"lines": ["Knitted a scarf for my dad {rel}, it's lumpy but he loves it.",
               "Bought merino yarn in a lovely dark green.",
               "Started a sweater pattern, the sleeves are terrifying."],
     "open": "Would {p} appreciate handmade wool crafts supplies?"},
]

CITIES = [("Lisbon", "the tiled houses", "custard tarts"), ("Kyoto", "the temples", "matcha everything"),
          ("Reykjavik", "the hot springs", "way too much fish"), ("Marrakech", "the souks", "tagine"),
          ("Vancouver", "the seawall", "sushi"), ("Buenos Aires", "the tango halls", "steak"),
          ("Edinburgh", "the castle", "shortbread"), ("Hanoi", "the old quarter", "pho"),
          ("Prague", "the bridges", "dumplings"), ("Cape Town", "Table Mountain", "braai"),
          ("Oslo", "the fjord", "brown cheese"), ("Mexico City", "the murals", "tacos al pastor")]
TRIP_LINES = ["Just got back from {city}, I flew out {rel}. Seeing {sight} was incredible.",
              "Spent a few days in {city}, left {rel}, ate way too much {food}.",
              "{rel_cap} I was in {city} for a wedding, {sight} took my breath away."]
TRIP_WHEN = ["When did {p} go to {city}?", "When was {p}'s visit to {city}?"]
TRIP_MONTH = ["Which city did {p} travel to in {month}?", "Where did {p} go on a trip in {month}?"]
TRIP_ALL = ["Which places has {p} been to on trips?", "What cities has {p} visited over this period?"]
WISH_LINES = ["I'd love to see {city} someday.", "{city} is on my bucket list.", "A friend says {city} is overrated."]

ARCS: list[dict[str, Any]] = [
    {"steps": ["I signed up for the autumn marathon, what was I thinking.",
               "Did my longest training run {rel}, 32 kilometres, then slept all afternoon.",
               "I finished the marathon {rel}! Four hours and nine minutes, my legs are done."],
     "story": "How did {p}'s preparation for the long-distance race go, from start to finish?",
     "when": "When did {p} complete the 42 km event?", "when_step": 2},
    {"steps": ["I have an interview at a design studio on Thursday, wish me luck.",
               "The studio called {rel}, they made me an offer!",
               "First week at the new studio is done, my team is lovely."],
     "story": "What happened with {p}'s job search, step by step?",
     "when": "When did {p} hear back with the job offer?", "when_step": 1},
    {"steps": ["We're looking at flats near the old town, the prices are wild.",
               "We signed the lease {rel}, the flat has a tiny balcony.",
               "We moved in {rel}, there are boxes everywhere and no curtains."],
     "story": "How did {p}'s search for a new home turn out?",
     "when": "When did {p} sign the rental agreement?", "when_step": 1},
    {"steps": ["Started evening classes in Japanese, the alphabet is hard.",
               "Passed the first Japanese test {rel}, ninety percent!",
               "Had a whole conversation in Japanese with the waiter at the ramen place."],
     "story": "How has {p} progressed with learning a new language?",
     "when": "When did {p} pass the language exam?", "when_step": 1},
    {"steps": ["We got engaged {rel}! He asked on the beach at sunset.",
               "We booked the venue, an old barn with fairy lights.",
               "The wedding was {rel}, I cried through the whole vows."],
     "story": "What were the milestones of {p}'s path to getting married?",
     "when": "When did {p} get engaged?", "when_step": 0},
    {"steps": ["The kitchen renovation starts Monday, we'll be eating takeaway for weeks.",
               "The builders found rotten beams under the kitchen floor {rel}, more delays.",
               "The new kitchen is finished! We cooked our first dinner in it {rel}."],
     "story": "How did the work on {p}'s cooking space go?",
     "when": "When was {p}'s remodelled kitchen ready?", "when_step": 2},
    {"steps": ["I enrolled in a night course for my nursing degree.",
               "Handed in my dissertation {rel}, 12,000 words.",
               "I graduated {rel}, my mum wore a huge hat to the ceremony."],
     "story": "How did {p}'s studies go from enrolment to the end?",
     "when": "When did {p} have the graduation ceremony?", "when_step": 2},
    {"steps": ["I'm volunteering at the animal shelter on Saturdays now.",
               "Helped bottle-feed six orphaned kittens at the shelter {rel}.",
               "The shelter made me volunteer coordinator {rel}!"],
     "story": "How has {p}'s involvement with the rescue centre developed?",
     "when": "When was {p} promoted at the rescue centre?", "when_step": 2},
]

KIDS = [["Picked up my daughter from school {rel}, she lost her first tooth.",
         "Took the kids to the zoo, the little one cried at the lions."],
        ["My son's football team won {rel}, he scored a goal!",
         "Parent-teacher evening tonight, wish me luck."]]
KIDS_QUESTION = ["Is {p} a parent?", "Does {p} have children?"]

ASK = ["{p}, what's new with you?", "How was your week, {p}?", "Anything exciting happen, {p}?",
       "{p}! Long time no see, how are things?", "What have you been up to, {p}?"]
REACT = ["Wow, that's amazing!", "Haha, love that.", "Congrats!", "Oh nice, tell me more.",
         "That sounds exhausting but fun.", "No way!", "Good for you.", "I'm so jealous.",
         "That's so cool, {p}.", "Sounds lovely.", "Ha, classic {p}.", "Oh wow, how did that feel?"]
FILLER = [
    "Ugh, Mondays.", "Has anyone seen the new superhero movie?", "It's been raining nonstop here.",
    "I need more coffee.", "My internet was down all morning.", "Work has been so busy lately.",
    "I finally cleaned the garage.", "Anyone watching the football tonight?", "I'm thinking of getting a haircut.",
    "The neighbours are renovating again, so much noise.", "I slept twelve hours last night.",
    "Traffic was awful this morning.", "Did you all see the sunset yesterday?", "I've been binging a baking show.",
    "My phone screen cracked, again.", "We should all meet up for dinner soon.", "Happy Friday everyone!",
    "I'm trying to drink less coffee, it's not going well.", "The new cafe on the corner is decent.",
    "My neighbour's dog barks all night.", "I really need a holiday.", "Groceries are so expensive now.",
    "I started a podcast about nothing in particular.", "Does anyone have a good pizza place?",
    "I keep forgetting to water my plants.", "My cat knocked a glass off the table again.",
    "Running late, sorry!", "Did anyone try that hiking trail by the lake?", "I think I'm getting a cold.",
    "My boss wants a report by tomorrow.", "Weekend plans anyone?", "I should really learn to cook.",
    "Travel is so expensive these days.", "The museum has a free day next month.", "So tired today.",
    "My sister keeps sending me memes at 3am.", "We had a fire drill at work, in the rain of course.",
    "I can't decide what to get my mum for her birthday.", "The gym was packed this morning.",
    "Is it just me or is everyone sick this month?", "I burned the toast, the smoke alarm went off.",
    "My flight got delayed by three hours once, never again.", "We watched an old western last night.",
    "The landlord finally fixed the heating.", "I'm learning to juggle, badly.", "Who wants to split a pizza?",
    "My plants are thriving, unlike me.", "I think I left my umbrella on the train.",
    "The kids next door built a treehouse.", "Dentist appointment tomorrow, wish me luck.",
]


@dataclass
class _Event:
    person: str
    session: int
    lines: list[str]  # the person's turns (evidence), each may carry {rel}
    ask_first: bool = False
    tag: str = ""  # key linking questions to this event
    rel_days: int | None = None
    rel: str = ""


@dataclass
class _Person:
    name: str
    events: list[_Event] = field(default_factory=list)


def _rel(rnd: random.Random, day: date) -> tuple[str, date]:
    phrase, days = rnd.choice(RELATIVE)
    if days is None:  # the Saturday before the session's day
        back = (day.weekday() - 5) % 7 or 7
        return phrase, day - timedelta(days=back)
    return phrase, day - timedelta(days=days)


def _sessions(rnd: random.Random) -> list[date]:
    day = date(2023, 1, 2) + timedelta(days=rnd.randrange(500))
    out = []
    for _ in range(rnd.randint(16, 20)):
        out.append(day)
        day += timedelta(days=rnd.randint(5, 21))
    return out


def _spread(rnd: random.Random, n_sessions: int, count: int, min_gap: int = 2) -> list[int]:
    for _ in range(200):
        picks = sorted(rnd.sample(range(n_sessions), count))
        if all(b - a >= min_gap for a, b in itertools.pairwise(picks)):
            return picks
    return sorted(rnd.sample(range(n_sessions), count))


def _conversation(rnd: random.Random, index: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    cid = f"conv{index + 1:02d}"
    people = rnd.sample(NAMES, rnd.choice([3, 3, 4]))
    days = _sessions(rnd)
    n = len(days)
    questions: list[dict[str, Any]] = []
    plans: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    events: list[_Event] = []
    pets = rnd.sample(PETS, len(people))
    pet_names = rnd.sample(PET_NAMES, len(people))
    hobbies = rnd.sample(range(len(HOBBIES)), 2 * len(people))
    cities = rnd.sample(CITIES, min(len(CITIES), 3 * len(people)))
    arcs = rnd.sample(ARCS, len(people))
    jobs = rnd.sample(JOBS, len(people))
    sib_jobs = rnd.sample(SIBLING_JOBS, len(people))
    sib_names = rnd.sample([x for x in NAMES if x not in people], len(people))
    for i, p in enumerate(people):
        kind, generic, pron = pets[i]
        events.append(_Event(p, rnd.randrange(n), [rnd.choice(PET_LINES).format(
            kind=kind, pron=pron, pname=pet_names[i], rel="{rel}")], ask_first=rnd.random() < 0.5, tag=f"{p}:pet"))
        plans[f"{p}:pet"] = [("single-hop", {"q": rnd.choice(PET_QUESTIONS).format(p=p, generic=generic),
                                             "a": pet_names[i]}),
                             ("temporal", {"q": rnd.choice(PET_WHEN).format(p=p, generic=generic), "a": "@date"})]
        rel, relword = rnd.choice(SIBLINGS)
        events.append(_Event(p, rnd.randrange(n), [rnd.choice(SIBLING_LINES).format(
            rel=rel, sname=sib_names[i], job=sib_jobs[i][0])], tag=f"{p}:sib"))
        plans[f"{p}:sib"] = [("single-hop", {"q": rnd.choice(SIBLING_QUESTIONS).format(
            p=p, relword=relword, sname=sib_names[i]), "a": sib_jobs[i][1]})]
        job_line, job_q = jobs[i]
        events.append(_Event(p, rnd.randrange(n), [job_line[0].upper() + job_line[1:] + "."], tag=f"{p}:job"))
        plans[f"{p}:job"] = [("single-hop", {"q": job_q.format(p=p), "a": job_line})]
        for h in hobbies[2 * i : 2 * i + 2]:
            tag = f"{p}:hobby{h}"
            for s, line in zip(_spread(rnd, n, 3), HOBBIES[h]["lines"], strict=True):
                events.append(_Event(p, s, [line], tag=tag))
            plans[tag] = [("open-domain", {"q": HOBBIES[h]["open"].format(p=p), "a": "yes"})]
        trip_sessions = _spread(rnd, n, 3)
        for j, s in enumerate(trip_sessions):
            city, sight, food = cities[(3 * i + j) % len(cities)]
            line = rnd.choice(TRIP_LINES).format(city=city, sight=sight, food=food, rel="{rel}", rel_cap="{rel_cap}")
            tag = f"{p}:trip{j}"
            events.append(_Event(p, s, [line], ask_first=rnd.random() < 0.4, tag=tag))
            kind_q = "temporal"
            q = (rnd.choice(TRIP_WHEN).format(p=p, city=city) if j != 1
                 else rnd.choice(TRIP_MONTH).format(p=p, month="@month"))
            plans[tag] = [(kind_q, {"q": q, "a": city if j == 1 else "@date"})]
        plans[f"{p}:trips"] = [("multi-hop", {"q": rnd.choice(TRIP_ALL).format(p=p), "a": "@cities",
                                              "tags": [f"{p}:trip{j}" for j in range(3)]})]
        arc = arcs[i]
        for j, s in enumerate(_spread(rnd, n, 3, min_gap=3)):
            events.append(_Event(p, s, [arc["steps"][j]], tag=f"{p}:arc{j}"))
        plans[f"{p}:arc"] = [("multi-hop", {"q": arc["story"].format(p=p), "a": "the three steps",
                                            "tags": [f"{p}:arc{j}" for j in range(3)]})]
        when_step = arc["when_step"]
        plans[f"{p}:arc{when_step}"] = [("temporal", {"q": arc["when"].format(p=p), "a": "@date"})]
        if rnd.random() < 0.5:
            lines = rnd.choice(KIDS)
            for j, s in enumerate(_spread(rnd, n, 2)):
                events.append(_Event(p, s, [lines[j]], tag=f"{p}:kid{j}"))
            plans[f"{p}:kids"] = [("open-domain", {"q": rnd.choice(KIDS_QUESTION).format(p=p), "a": "yes",
                                                   "tags": [f"{p}:kid0", f"{p}:kid1"]})]

    sessions: list[dict[str, Any]] = []
    where: dict[str, list[str]] = {}  # tag -> evidence turn ids
    when: dict[str, date] = {}  # tag -> the day it happened
    for s, day in enumerate(days):
        blocks: list[list[tuple[str, str, str]]] = []  # (speaker, text, tag or "")
        for ev in (e for e in events if e.session == s):
            others = [x for x in people if x != ev.person]
            block: list[tuple[str, str, str]] = []
            if ev.ask_first:
                block.append((rnd.choice(others), rnd.choice(ASK).format(p=ev.person), ""))
            for line in ev.lines:
                text = line
                happened = day
                if "{rel}" in line or "{rel_cap}" in line:
                    phrase, happened = _rel(rnd, day)
                    text = line.replace("{rel_cap}", phrase[0].upper() + phrase[1:]).replace("{rel}", phrase)
                when[ev.tag] = happened
                block.append((ev.person, text, ev.tag))
            for _ in range(rnd.choice([1, 1, 2])):
                block.append((rnd.choice(others), rnd.choice(REACT).format(p=ev.person), ""))
            blocks.append(block)
        for _ in range(rnd.randint(9, 14)):  # small talk and wishes: distractors
            speaker = rnd.choice(people)
            text = (rnd.choice(WISH_LINES).format(city=rnd.choice(CITIES)[0]) if rnd.random() < 0.2
                    else rnd.choice(FILLER))
            block = [(speaker, text, "")]
            if rnd.random() < 0.6:
                block.append((rnd.choice([x for x in people if x != speaker]),
                              rnd.choice(REACT).format(p=speaker), ""))
            blocks.append(block)
        rnd.shuffle(blocks)
        turns = []
        start = datetime(day.year, day.month, day.day, rnd.randint(17, 20), rnd.randrange(60), tzinfo=UTC)
        for t, (speaker, text, tag) in enumerate(x for b in blocks for x in b):
            tid = f"{cid}:s{s + 1}:t{t + 1}"
            turns.append({"id": tid, "speaker": speaker, "text": text,
                          "timestamp": (start + timedelta(minutes=t)).isoformat().replace("+00:00", "Z")})
            if tag:
                where.setdefault(tag, []).append(tid)
                if any(ev.ask_first and ev.tag == tag for ev in events) and t > 0:
                    # The question that prompted the answer belongs to it as well.
                    prev = turns[-2]["id"]
                    if prev not in where[tag]:
                        where[tag].insert(0, prev)
        sessions.append({"id": f"{cid}:s{s + 1}", "date": day.isoformat(), "turns": turns})

    for tag, plan in plans.items():
        for kind, spec in plan:
            tags = spec.get("tags", [tag])
            evidence = [tid for t in tags for tid in where.get(t, [])]
            if not evidence:
                continue
            answer = spec["a"]
            text = spec["q"]
            if answer == "@date":
                answer = when[tags[0]].strftime("%-d %B %Y")
            elif answer == "@cities":
                answer = ", ".join(cities[(3 * people.index(tag.split(":")[0]) + j) % len(cities)][0]
                                   for j in range(3))
            if "@month" in text:
                text = text.replace("@month", when[tags[0]].strftime("%B %Y"))
            questions.append({"id": f"{cid}:q{len(questions) + 1}", "conversation": cid, "kind": kind,
                              "question": text, "answer": answer, "evidence": evidence})
    return {"id": cid, "people": people, "sessions": sessions}, questions


def build(seed: int = 2024, conversations: int = 10) -> dict[str, Any]:
    """The whole set: ``{"conversations": [...], "questions": [...]}``, the same for the same seed."""
    rnd = random.Random(seed)
    convs, questions = [], []
    for i in range(conversations):
        conv, qs = _conversation(rnd, i)
        convs.append(conv)
        questions += qs
    return {"seed": seed, "conversations": convs, "questions": questions}


def load(path: Path = DEFAULT_PATH) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    data = build(args.seed)
    args.out.write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    turns = sum(len(s["turns"]) for c in data["conversations"] for s in c["sessions"])
    kinds: dict[str, int] = {}
    for q in data["questions"]:
        kinds[q["kind"]] = kinds.get(q["kind"], 0) + 1
    print(json.dumps({"conversations": len(data["conversations"]), "turns": turns, "questions": kinds}))
