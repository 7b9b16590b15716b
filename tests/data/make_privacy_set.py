# ruff: noqa: E501  (the templates are data: one prompt per line reads best)
"""Builds tests/data/privacy_set.jsonl: a template-built, labelled set of English and Chinese prompts for the
privacy detector, with hard negatives (textbook medicine and law, money in word problems, exam questions).

Written apart from the detector: nothing here imports assistant.privacy. Names, companies, cities and street
addresses come from Faker's en_US, en_GB and zh_CN locales (MIT); every template and word list below is written for
this project. Rows are split into a tuning part and a held-apart part BY TEMPLATE (fixed seed): no template that
produced a held-apart row produced a tuning row, so the held-apart figures measure phrasing the learned part never
saw. Run: ``python -m tests.data.make_privacy_set`` (needs ``pip install faker``); the output is committed.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path

OUT = Path(__file__).with_name("privacy_set.jsonl")
SEED = 20260
HELD_APART_SHARE = 0.3
ROWS_PER_TEMPLATE = 8
COMPOSED_PER_FACT = 16
COMPOSED_PER_FRAME = 8

# --- word lists (written for this set) ----------------------------------------------------------------------------
EN_DRUGS = ["ibuprofen", "metformin", "sertraline", "lisinopril", "amoxicillin", "atorvastatin", "levothyroxine",
            "prednisone", "insulin glargine", "warfarin", "omeprazole", "gabapentin", "fluoxetine", "Adderall",
            "methotrexate", "albuterol", "Ozempic", "lithium", "naproxen", "paracetamol"]
EN_CONDITIONS = ["obesity", "type 2 diabetes", "hypertension", "asthma", "depression", "an anxiety disorder",
                 "rheumatoid arthritis", "migraine", "hypothyroidism", "Crohn's disease", "breast cancer",
                 "epilepsy", "ADHD", "sleep apnea", "long COVID", "multiple sclerosis", "psoriasis", "gout",
                 "bipolar disorder", "kidney stones", "celiac disease", "a heart arrhythmia"]
EN_SYMPTOMS = ["joint discomfort", "chest pain", "shortness of breath", "dizziness", "night sweats",
               "a persistent cough", "blurred vision", "numbness in the left hand", "heart palpitations",
               "stomach cramps", "lower back pain", "fatigue", "swollen ankles", "ringing in the ears",
               "frequent headaches", "weight loss", "a rash on the arms", "trouble sleeping"]
EN_PROCEDURES = ["knee surgery", "gallbladder removal", "a C-section", "hip replacement", "chemotherapy",
                 "an appendectomy", "a colonoscopy", "cataract surgery", "a root canal", "an MRI"]
EN_RELATIVES = ["mom", "dad", "wife", "husband", "son", "daughter", "brother", "sister", "grandmother",
                "grandfather", "partner", "mother-in-law", "uncle", "aunt", "cousin", "stepdad", "fiancée"]
EN_BANKS = ["US Bank", "Chase", "Wells Fargo", "Bank of America", "Citi", "Capital One", "Barclays", "HSBC",
            "Santander", "Discover", "American Express", "Monzo", "Revolut", "TD Bank", "PNC"]
EN_CITIES = ["Tokyo", "Paris", "Lisbon", "Seoul", "Chicago", "Denver", "Berlin", "Rome", "Bangkok", "Sydney",
             "Toronto", "Mexico City", "Istanbul", "Barcelona", "Vancouver", "Kyoto", "Prague", "Dublin",
             "Singapore", "Cape Town", "Austin", "Boston", "Hanoi", "Reykjavik"]
EN_COUNTRIES = ["Canada", "Japan", "Germany", "Brazil", "Kenya", "India", "Australia", "France", "Mexico",
                "Vietnam", "Norway", "Chile", "Egypt", "Italy", "Peru"]
EN_JOBS = ["data analyst", "product manager", "nurse", "backend engineer", "UX designer", "accountant",
           "sales lead", "teacher", "marketing coordinator", "pharmacist", "site reliability engineer"]
EN_LEAVES = ["sick", "parental", "bereavement", "unpaid", "medical", "maternity", "annual", "compassionate"]
EN_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"]
EN_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
EN_PLATFORMS = ["Instagram", "Facebook", "PayPal", "Amazon seller", "eBay", "Airbnb", "Uber", "Steam", "LinkedIn",
                "TikTok", "Etsy", "Coinbase"]
EN_HOTELS = ["Hilton", "Marriott", "Hyatt Regency", "Holiday Inn", "Ace Hotel", "Four Seasons", "Ibis",
             "Radisson Blu", "the Park Hotel"]
EN_CHARGES = ["DUI", "shoplifting", "assault", "trespassing", "tax evasion", "drug possession", "fraud",
              "reckless driving", "harassment", "vandalism"]
EN_TOPICS = ["the French Revolution", "photosynthesis", "black holes", "the water cycle", "supply and demand",
             "machine learning", "plate tectonics", "the Roman Empire", "quantum entanglement", "jazz history"]
EN_FOODS = ["green tea", "oat milk", "spicy food", "dark chocolate", "sushi", "black coffee", "vegetarian dishes"]

ZH_DRUGS = ["布洛芬", "二甲双胍", "阿莫西林", "舍曲林", "氨氯地平", "阿托伐他汀", "优甲乐", "泼尼松", "胰岛素",
            "华法林", "奥美拉唑", "头孢", "氯雷他定", "阿司匹林", "连花清瘟", "褪黑素", "甲硝唑", "碳酸锂"]
ZH_CONDITIONS = ["糖尿病", "高血压", "抑郁症", "焦虑症", "哮喘", "甲亢", "痛风", "胃溃疡", "乳腺结节", "肺结节",
                 "类风湿关节炎", "偏头痛", "乙肝", "脂肪肝", "腰椎间盘突出", "过敏性鼻炎", "心律不齐", "胃癌",
                 "肾结石", "失眠症", "多囊卵巢综合征", "双相情感障碍"]
ZH_SYMPTOMS = ["胸闷", "头晕", "关节疼", "咳嗽不止", "心慌", "腰疼", "胃胀", "失眠", "手脚发麻", "耳鸣",
               "低烧", "恶心想吐", "浑身乏力", "皮肤起疹子", "视力模糊", "夜里盗汗", "喘不上气"]
ZH_PROCEDURES = ["阑尾手术", "膝关节手术", "剖腹产", "胃镜检查", "化疗", "甲状腺切除", "心脏支架", "白内障手术",
                 "腰椎手术", "拔智齿"]
ZH_RELATIVES = ["妈", "爸", "老公", "老婆", "儿子", "女儿", "哥哥", "姐姐", "弟弟", "妹妹", "奶奶", "爷爷",
                "外婆", "婆婆", "岳父", "男朋友", "女朋友", "表妹"]
ZH_BANKS = ["招商银行", "工商银行", "建设银行", "中国银行", "农业银行", "交通银行", "浦发银行", "平安银行",
            "中信银行", "民生银行", "兴业银行", "邮储银行"]
ZH_CITIES = ["北京", "上海", "杭州", "成都", "西安", "厦门", "青岛", "大理", "三亚", "重庆", "武汉", "南京",
             "长沙", "深圳", "哈尔滨", "昆明", "苏州", "广州", "东京", "首尔", "曼谷", "新加坡"]
ZH_JOBS = ["产品经理", "前端开发", "数据分析师", "会计", "护士", "销售主管", "运营专员", "UI设计师", "测试工程师",
           "人力资源专员", "算法工程师"]
ZH_LEAVES = ["病假", "事假", "年假", "婚假", "产假", "陪产假", "丧假", "育儿假"]
ZH_PLATFORMS = ["微信", "支付宝", "抖音", "淘宝店铺", "美团", "小红书", "微博", "拼多多", "京东", "闲鱼", "QQ"]
ZH_HOTELS = ["汉庭酒店", "全季酒店", "希尔顿酒店", "如家", "亚朵酒店", "万豪酒店", "锦江之星", "维也纳酒店"]
ZH_SCHOOLS = ["实验小学", "第一中学", "阳光幼儿园", "外国语学校", "育才中学", "希望小学"]
ZH_TOPICS = ["光合作用", "工业革命", "相对论", "唐诗", "区块链", "板块构造", "二战历史", "量子计算", "宋词",
             "供需关系"]


class Slots:
    """Random fillers for one row; Faker supplies names, companies and addresses."""

    def __init__(self, rng: random.Random, fakers: dict[str, object]) -> None:
        self.rng = rng
        self.f = fakers

    def pick(self, items: list[str]) -> str:
        return self.rng.choice(items)

    def en_name(self) -> str:
        return str(self.rng.choice([self.f["en_US"], self.f["en_GB"]]).name())  # type: ignore[attr-defined]

    def en_first(self) -> str:
        return str(self.rng.choice([self.f["en_US"], self.f["en_GB"]]).first_name())  # type: ignore[attr-defined]

    def zh_name(self) -> str:
        return str(self.f["zh_CN"].name())  # type: ignore[attr-defined]

    def zh_first(self) -> str:
        name = self.zh_name()
        return self.rng.choice([name, "小" + name[-1], "阿" + name[-1], name[1:] or name])

    def fill(self, template: str, lang: str) -> str:
        rng = self.rng
        he = rng.choice(["he", "she", "they"]) if lang == "en" else rng.choice(["他", "她"])
        his = {"he": "his", "she": "her", "they": "their"}.get(he, he)
        him = {"he": "him", "she": "her", "they": "them"}.get(he, he)
        amount = rng.choice([rng.randint(12, 990), rng.randint(1000, 9999), rng.randint(10, 300) * 100,
                             rng.randint(20, 250) * 1000])
        values: dict[str, Callable[[], str]] = {
            "name": self.en_name if lang == "en" else self.zh_name,
            "first": self.en_first if lang == "en" else self.zh_first,
            "first2": self.en_first if lang == "en" else self.zh_first,
            "company": lambda: str(self.f["en_US" if lang == "en" else "zh_CN"].company()),  # type: ignore[attr-defined]
            "address": lambda: str(self.f["en_US" if lang == "en" else "zh_CN"].street_address()),  # type: ignore[attr-defined]
            "street": lambda: str(self.f["en_US" if lang == "en" else "zh_CN"].street_name()),  # type: ignore[attr-defined]
            "drug": lambda: self.pick(EN_DRUGS if lang == "en" else ZH_DRUGS),
            "condition": lambda: self.pick(EN_CONDITIONS if lang == "en" else ZH_CONDITIONS),
            "symptom": lambda: self.pick(EN_SYMPTOMS if lang == "en" else ZH_SYMPTOMS),
            "symptom2": lambda: self.pick(EN_SYMPTOMS if lang == "en" else ZH_SYMPTOMS),
            "procedure": lambda: self.pick(EN_PROCEDURES if lang == "en" else ZH_PROCEDURES),
            "relative": lambda: self.pick(EN_RELATIVES if lang == "en" else ZH_RELATIVES),
            "bank": lambda: self.pick(EN_BANKS if lang == "en" else ZH_BANKS),
            "city": lambda: self.pick(EN_CITIES if lang == "en" else ZH_CITIES),
            "city2": lambda: self.pick(EN_CITIES if lang == "en" else ZH_CITIES),
            "country": lambda: self.pick(EN_COUNTRIES),
            "job": lambda: self.pick(EN_JOBS if lang == "en" else ZH_JOBS),
            "leave": lambda: self.pick(EN_LEAVES if lang == "en" else ZH_LEAVES),
            "month": lambda: self.pick(EN_MONTHS) if lang == "en" else f"{rng.randint(1, 12)}月",
            "day": lambda: self.pick(EN_DAYS) if lang == "en" else "周" + rng.choice("一二三四五六日"),
            "date": lambda: (f"{self.pick(EN_MONTHS)} {rng.randint(1, 28)}" if lang == "en"
                             else f"{rng.randint(1, 12)}月{rng.randint(1, 28)}号"),
            "date2": lambda: (f"{self.pick(EN_MONTHS)} {rng.randint(1, 28)}" if lang == "en"
                              else f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日"),
            "year": lambda: str(rng.randint(1958, 2004)),
            "age": lambda: str(rng.randint(3, 108)),
            "adult_age": lambda: str(rng.randint(19, 88)),
            "n": lambda: str(rng.randint(2, 14)),
            "k": lambda: str(rng.randint(2, 9)),
            "p": lambda: str(rng.randint(2, 25)),
            "amount": lambda: f"{amount:,}" if lang == "en" and rng.random() < 0.5 else str(amount),
            "amount2": lambda: str(rng.choice([rng.randint(50, 900), rng.randint(1000, 60000)])),
            "last4": lambda: f"{rng.randint(0, 9999):04d}",
            "time": lambda: (f"{rng.randint(1, 12)}:{rng.choice(['00', '15', '30', '45'])} {rng.choice(['am', 'pm'])}"
                             if lang == "en" else f"{rng.randint(7, 22)}点"),
            "flight": lambda: rng.choice(["UA", "CA", "MU", "NH", "BA", "DL", "CZ", "LH"]) + str(rng.randint(100, 9999)),
            "platform": lambda: self.pick(EN_PLATFORMS if lang == "en" else ZH_PLATFORMS),
            "hotel": lambda: self.pick(EN_HOTELS if lang == "en" else ZH_HOTELS),
            "charge": lambda: self.pick(EN_CHARGES),
            "school": lambda: self.pick(ZH_SCHOOLS) if lang == "zh" else f"{self.en_first()} Elementary",
            "topic": lambda: self.pick(EN_TOPICS if lang == "en" else ZH_TOPICS),
            "food": lambda: self.pick(EN_FOODS),
            "inv": lambda: str(rng.randint(1000, 99999)),
            "sex": lambda: rng.choice(["man", "woman", "boy", "girl"]),
            "sex_zh": lambda: rng.choice("男女"),
            "he": lambda: he, "his": lambda: his, "him": lambda: him,
            "He": lambda: he.capitalize(), "His": lambda: his.capitalize(),
        }

        def sub(m: re.Match[str]) -> str:
            return values[m.group(1)]()

        return re.sub(r"\{(\w+)\}", sub, template)


# --- templates: (kind, template); kind "none" marks a negative ------------------------------------------------------
EN: list[tuple[str, str]] = [
    # health of a named or described person, or of the speaker
    ("health", "What dosage of {drug} should {name} take for {his} {symptom}, considering {his} {condition} diagnosis?"),
    ("health", "A {age}-year-old female patient named {first} reports {symptom} and {symptom2}. What should we check first?"),
    ("health", "I've been on {drug} for my {condition} since {month}; is it okay to have a glass of wine with it?"),
    ("health", "My {relative} was just diagnosed with {condition}. How do we explain it to the kids?"),
    ("health", "{name} has been off work with {condition} since {date}; draft a note to the team that leaves out the details."),
    ("health", "remind me to take my {drug} every morning at {time}"),
    ("health", "Since my {procedure} in {month} I still get {symptom} when I climb stairs. Should I be worried?"),
    ("health", "{first}'s blood work came back with high cholesterol. What should {he} ask the cardiologist on {day}?"),
    ("health", "My therapist thinks my {condition} is getting worse. any tips for sleeping better?"),
    ("health", "Patient: {name}. Chief complaint: {symptom} for {n} days, history of {condition}. Draft a referral letter."),
    ("health", "Is {n}0 mg of {drug} too much for my {age}-year-old who has {symptom}?"),
    ("health", "I was admitted to St. Mary's last night with {condition}, please cancel all my meetings this week"),
    ("health", "{first} told me in confidence that {he} has {condition}. How can I support {him} at work?"),
    ("health", "Can you log that I had {symptom} again today after taking {drug}? Third time this week."),
    ("health", "My doctor wants me to start {drug} for {condition} but I'm worried about side effects."),
    ("health", "Write a short message to {first} asking how {his} recovery from {procedure} is going."),
    ("health", "I'm {n} weeks pregnant and have {symptom}; can I still take {drug}?"),
    ("health", "Our client {name} mentioned {he} is on {drug} and can't travel until the {condition} is under control."),
    # finance of a person
    ("finance", "I noticed a charge of ${amount} on my {bank} card ending with {last4} that I don't recognize. How do I dispute it?"),
    ("finance", "My salary is ${amount} a year and I still owe ${amount2} on student loans. How fast can I pay them off?"),
    ("finance", "{name} still owes me ${amount} from {month}, write a polite but firm reminder"),
    ("finance", "I have ${amount} in savings and ${amount2} of credit card debt. Which should I tackle first?"),
    ("finance", "My credit score dropped to 5{n}0 after I missed a payment on my {bank} card. How long until it recovers?"),
    ("finance", "Move ${amount} from my joint account with {first} into my {bank} savings on the 1st."),
    ("finance", "Rent is ${amount} and I take home ${amount2} a month. Can I afford a car loan?"),
    ("finance", "{first} just got a raise to ${amount}; roughly how much more tax will {he} pay?"),
    ("finance", "My Visa ending in {last4} shows ${amount} at {company} on {date}. I never bought anything there."),
    ("finance", "I'm thinking of filing for bankruptcy next month. What happens to my mortgage with {bank}?"),
    ("finance", "We're saving ${amount} for our wedding and my fiancé earns ${amount2}; make us a monthly budget."),
    ("finance", "My tax refund of ${amount} never arrived; I filed on {date}. Who do I call?"),
    ("finance", "My budget for the renovation is {amount} USD, and I can borrow another {amount2} from my dad."),
    ("finance", "{bank} declined my loan application for ${amount}. Help me write to them asking why."),
    ("finance", "Last month I spent ${amount} on takeout and ${amount2} on rent — please categorize my spending."),
    ("finance", "How much should I put into my 401k if I make ${amount} and have ${amount2} in debt?"),
    # legal trouble of a person
    ("legal", "I got arrested for {charge} in {city} last {day}. What should I say at my arraignment on {date}?"),
    ("legal", "My landlord {name} is suing me for ${amount} in unpaid rent. How do I answer the summons?"),
    ("legal", "{first} has a court date on {date} for the {charge} charge; can you help {him} find a public defender?"),
    ("legal", "Draft a letter to my lawyer {name} about the custody hearing for my daughter."),
    ("legal", "I'm being investigated by my employer for expense fraud. What are my rights here?"),
    ("legal", "My ex {first} violated the restraining order again last night. What do I do?"),
    ("legal", "{name} is on probation until {month}; can {he} fly to {city} for a work trip?"),
    ("legal", "I got a ${amount} speeding ticket outside {city} and want to contest it."),
    ("legal", "{first} and I are divorcing and {he} wants the house. How is property usually split?"),
    ("legal", "My brother was sentenced to {n} months for {charge}; how can I send him money in prison?"),
    ("legal", "The police want to interview me about the accident on {date}. Should I bring a lawyer?"),
    ("legal", "{company} sent me a cease and desist about my blog post. I'm scared, what now?"),
    ("legal", "I was sued by {name} over the fence between our yards; the hearing is on {date}."),
    # HR matters
    ("hr", "Write an email to {first} in HR asking for {n} days of {leave} leave starting {date}."),
    ("hr", "My performance review with {name} is on {day}. Last year {he} rated me 'needs improvement'. How do I prepare?"),
    ("hr", "Help me write my resignation letter to {company}; my last day will be {date}."),
    ("hr", "My H-1B expires in {month}. Can {company} still file an extension for me?"),
    ("hr", "{name} was put on a performance improvement plan today; draft a summary for {his} file."),
    ("hr", "I'm applying for the {job} role at {company}. Here is my cover letter, please make it stronger."),
    ("hr", "{first} asked for parental leave starting in {month}; how do I cover {his} shifts?"),
    ("hr", "I was let go from {company} yesterday. Can I still claim unemployment?"),
    ("hr", "My visa interview at the {country} embassy is on {date}. Which documents should I bring?"),
    ("hr", "I got two offers, {company} at ${amount} and another at ${amount2}. Which should I take?"),
    ("hr", "Please draft feedback for {name}'s annual review: strong delivery, weak communication."),
    ("hr", "I want to report my manager {name} for making comments about my age. How do I start?"),
    ("hr", "{first} from my team has been late {n} times this month; write a warning I can send {him}."),
    # family and relationships
    ("family", "My {relative} and I haven't spoken since the fight at {first}'s wedding. How do I reach out?"),
    ("family", "{first} and I are separating; how do we tell our {n}-year-old?"),
    ("family", "My daughter {first} is being bullied at {school}. What should I write to her teacher?"),
    ("family", "I think my husband is seeing {first} behind my back. What should I do?"),
    ("family", "Plan a surprise party for my wife {first}'s {age}th birthday on {date}."),
    ("family", "My son {first} came out to us last night. How can I support him?"),
    ("family", "{name}'s father passed away on {day}. Write a condolence note from the team."),
    ("family", "We're adopting a baby from {country} in {month} and my parents are against it."),
    ("family", "My girlfriend {first} wants to move in together but I'm not sure I'm ready."),
    ("family", "My mother-in-law {first} is moving in with us next month and I'm dreading it."),
    ("family", "{first} and {first2} just broke up and I'm stuck in the middle. Any advice?"),
    ("family", "my {relative} keeps asking me for money and I don't know how to say no"),
    ("family", "Our nanny {first} picks up the twins at 3; send her a note that they have a dentist visit on {day}."),
    # whereabouts of named people, home addresses
    ("whereabouts", "I'm planning a {n}-day trip to {city} with my friend {first} in {month}. My budget is {amount} USD."),
    ("whereabouts", "{name} will be at the {hotel} in {city} from {date} to {date2}; book a car to pick {him} up."),
    ("whereabouts", "I live at {address}. Which bus gets me to the airport fastest?"),
    ("whereabouts", "{first} is home alone at {address} until {time} tonight, can you check in on {him}?"),
    ("whereabouts", "My flight {flight} lands in {city} at {time} on {date}; tell {first} to meet me at arrivals."),
    ("whereabouts", "Where was {name} on the night of {date}? {He} says {he} was at a bar on {street}."),
    ("whereabouts", "I'll be in {city} from {date} to {date2} visiting my {relative}, block my calendar."),
    ("whereabouts", "Send {first} the address of my new apartment: {address}."),
    ("whereabouts", "{first} moved to {city} last month; {his} new place is right off {street}."),
    ("whereabouts", "Every Tuesday I drop the kids at {school} at 8 and then go to the gym on {street}."),
    ("whereabouts", "{name} is travelling to {city} next week and will stay with {his} {relative}."),
    ("whereabouts", "We'll be away in {city} from {date}, so the house at {address} will be empty."),
    ("whereabouts", "Book a table near {first}'s office on {street} for {day} at {time}."),
    # the user's own identity and accounts
    ("identity", "My name is {name}, born {date}, {year}, in {city}. Fill in the passport renewal form for me."),
    ("identity", "I'm a {adult_age}-year-old citizen of {country} living in {city}; am I eligible for the residency program?"),
    ("identity", "My {platform} account was blocked after I logged in from {city}. Write an appeal saying it was really me."),
    ("identity", "Please help me appeal: {platform} suspended my account and I lost access to {n} years of photos."),
    ("identity", "Update my profile: {name}, {adult_age}, {job} at {company}, originally from {country}."),
    ("identity", "Someone hacked my {platform} account and changed the recovery e-mail. Help me write to support."),
    ("identity", "For the background check: I'm {name}, I was born in {year} and my mother's maiden name is {first}."),
    ("identity", "I'm {name} and I need to prove my identity to {bank}; which documents should I send them?"),
    ("identity", "My username is {first}{year} and I forgot the answers to my security questions."),
    # private correspondence about money or contracts with a named person
    ("correspondence", "Write an email to {name} at {company} reminding {him} that invoice {inv} for ${amount} is overdue."),
    ("correspondence", "Reply to {first}: thanks for the {month} invoices, I'll approve them by {day}."),
    ("correspondence", "Draft a note to my colleague {first} about renewing the contract with {company} at ${amount} a year."),
    ("correspondence", "Let {first} know that {name} from {company} called again about the unpaid invoice."),
    ("correspondence", "Summarize this email from {name}: 'Hi, attached are the invoices for {month}, please pay ${amount} by {date}.'"),
    ("correspondence", "Tell {first} in accounting that my reimbursement of ${amount} for the {city} trip is still pending."),
    ("correspondence", "Email {name}: we can't pay the ${amount} deposit until {company} signs the amended contract."),
    # more HR, identity and plans of one's own
    ("hr", "Please write {first}'s performance review: missed {k} deadlines this quarter and was late to most standups."),
    ("hr", "I'm interviewing with {company} next {day} and I don't want my manager to find out."),
    ("hr", "My work visa expires in {month} and HR still hasn't started the renewal. Who should I push?"),
    ("hr", "{first} filed a harassment complaint against {his} manager on {date}; how should I handle the investigation?"),
    ("hr", "My wife is pregnant with twins; draft a paternity leave request starting {date}."),
    ("hr", "I was put on a performance improvement plan today and I have {n} weeks to turn it around."),
    ("identity", "I forgot the password to my {platform} account and the recovery e-mail is my old work address."),
    ("identity", "Help me appeal: my {platform} account was locked after I logged in from {city}, and it's how I get paid."),
    ("identity", "For the form: I was born on {date}, {year} in {city}, and my mother's maiden name is {name}."),
    ("whereabouts", "I'm spending {n} days in {city} with my friend {first} in {month}; my budget is {amount} USD, plan it."),
    ("correspondence", "Write an e-mail to {first} in accounting: invoice #{inv} from {company} is {n} weeks overdue."),
    ("finance", "my salary is {amount} a month and my rent went up to {amount2}; can I still save anything?"),
    ("identity", "{name}'s passport number and home address were posted in a public channel by mistake; how do we contain it?"),
    ("identity", "My immigration status is still pending and my employer keeps asking for papers. What can I tell them?"),
    ("identity", "Somebody opened a {platform} account in my name using my date of birth; how do I report identity theft?"),
    ("identity", "{first} doesn't have legal status here and is afraid to see a doctor."),
    ("hr", "{first} failed {his} probation review and we have to tell {him} on {day}."),
    ("hr", "Draft the warning letter for {name}: third unexcused absence this month."),
    ("hr", "{first} asked me not to tell anyone that {he} is applying for a job at {company}."),
    ("hr", "My manager gave me a 2 out of 5 in my review and I want to contest it."),
    ("health", "{first} has to get a biopsy on {day}; can someone cover {his} on-call shift?"),
    ("health", "I keep forgetting my {drug}; set a reminder for {time} every day."),
    ("health", "My {age}-year-old has had {symptom} for {n} days; should I take {him} to the ER?"),
    ("legal", "{first} is a witness in a {charge} case and has to appear in court on {date}."),
    ("legal", "My {relative} got a DUI last weekend and may lose {his} licence."),
    ("legal", "{company}'s lawyers sent {name} a demand letter over ${amount} in unpaid fees."),
    ("family", "My {relative} and I haven't spoken since the fight at Christmas; help me write to {him}."),
    ("family", "{first} is going through IVF and asked for flexible hours."),
    ("family", "My {relative} is moving into a care home next month and I need {n} days off."),
    ("whereabouts", "{first} is staying at the {hotel} in {city} until {date}; send the documents there."),
    ("whereabouts", "My {relative} lands at {time} on flight {flight}; I'll leave work early to pick {him} up."),
    ("correspondence", "Reply to {name}: the ${amount} you invoiced in {month} was paid twice, please refund one."),
    ("finance", "My {relative} lent me ${amount} for the deposit and I'm paying {him} back ${amount2} a month."),
    ("finance", "I only have ${amount} left in my checking account until payday."),
]

EN_NEGATIVE: list[str] = [
    # medicine, as knowledge
    "What is the mechanism of action of {drug}?",
    "A {adult_age}-year-old man presents to the emergency department with {symptom}. Which of the following is the most likely diagnosis? (A) angina (B) pericarditis (C) pneumothorax (D) GERD",
    "List the common symptoms of {condition}.",
    "What is the maximum daily dose of {drug} for an adult?",
    "Explain the difference between type 1 and type 2 diabetes.",
    "Which organ is most commonly affected by {condition}?",
    "How does {drug} interact with grapefruit juice in general?",
    "What lifestyle changes are usually recommended to prevent {condition}?",
    "Which of the following drugs is a first-line treatment for {condition}? A. {drug} B. aspirin C. codeine D. penicillin",
    "A {adult_age}-year-old woman with a history of {condition} comes to the clinic. Which test should be ordered next?",
    "Why do some people get {symptom} at high altitude?",
    "What does a {procedure} involve and how long is recovery on average?",
    # law, as knowledge
    "A plaintiff was seriously injured in a collision with a delivery truck. Which of the following is the plaintiff's best argument against the trucking company?",
    "What is the difference between a misdemeanor and a felony?",
    "Explain the doctrine of adverse possession.",
    "Under the Fourth Amendment, when is a warrantless search permitted?",
    "A buyer and a seller signed a contract for the sale of land, but the deed was never recorded. Is the contract enforceable?",
    "What does habeas corpus mean?",
    "A defendant is charged with {charge}. Which of the following defenses is most likely to succeed?",
    "How long is the statute of limitations for breach of contract in most US states?",
    "Summarize the main holding of Miranda v. Arizona.",
    # money, as knowledge and word problems
    "{first} has ${p} and buys {k} apples at $2 each. How much money does {he} have left?",
    "{first} earns ${amount2} a month and saves a tenth of it. How much does {he} save in a year?",
    "What is the difference between a Roth IRA and a traditional IRA?",
    "How is compound interest calculated?",
    "A company's revenue grew from ${amount} to ${amount2}. What is the growth rate?",
    "What does APR mean on a credit card statement?",
    "If a loan of ${amount} has 5% annual interest, how much interest is owed after 3 years?",
    "Which of the following best describes a bond's yield to maturity?",
    "A store sells pens at ${p} each. If {first} buys {k} pens and pays with a $50 bill, what is the change?",
    "Explain what a credit score is and how it is calculated.",
    "What is a reasonable budget for a week in {city} for a typical tourist?",
    # HR, family and travel, as knowledge
    "What is a typical structure for an annual performance review?",
    "How many weeks of parental leave does the FMLA provide?",
    "Which documents are usually required for a student visa to the UK?",
    "Give me tips for writing a strong cover letter.",
    "What are common interview questions for a {job}?",
    "Explain the difference between exempt and non-exempt employees.",
    "What are the stages of child development according to Piaget?",
    "Write a short story about a family of bears who move to {city}.",
    "Give me ideas for a family-friendly weekend activity.",
    "What are the top sights in {city}?",
    "How long is the flight from {city} to {city2}?",
    "What's the best time of year to visit {city}?",
    "Plan a generic 3-day itinerary for {city} for first-time visitors.",
    # ordinary team chat
    "What is {k}7 times 23?",
    "Give me three ideas for a team lunch.",
    "Remember that I prefer {food}.",
    "I like dark mode better, remember that.",
    "Translate 'good morning, team' into French.",
    "Write a haiku about autumn.",
    "How do I reverse a list in Python?",
    "Tell {first} the slides look great.",
    "Ask {first} to review my pull request when {he} has a minute.",
    "{first} and {first2} are leading the release this week.",
    "What's the capital of {country}?",
    "Summarize {topic} in three sentences.",
    "Schedule a team sync for {day} at {time}.",
    "Draft release notes for version 2.{k}: faster search and a new export button.",
    "Why does my Docker build fail with 'no space left on device'?",
    "{name} wrote a great blog post about {topic}; can you summarize it?",
    "Can you explain {topic} like I'm five?",
    "Recommend three books about {topic}.",
    "What time zone is {city} in?",
    "Please proofread: 'The quarterly roadmap is attached, feedback welcome by {day}.'",
    "Who won the {year} World Cup?",
    "Compare PostgreSQL and SQLite for a small team wiki.",
    # general questions and team chat that mention sensitive words or people, about nobody's private life
    "What is the usual starting dose of {drug} for adults, according to the guidelines?",
    "Why does {condition} cause {symptom}?",
    "How long does it usually take to recover from {procedure}?",
    "Is {symptom} a common side effect of {drug}?",
    "In tort law, what is the difference between negligence and strict liability?",
    "What is the statute of limitations for {charge} in most US states?",
    "Can a landlord keep a security deposit for normal wear and tear?",
    "{first} earns ${p} an hour and works {k} hours. How much does {he} earn?",
    "A jacket costs ${amount2}. It is on sale for {k}0% off. What is the sale price?",
    "{first} puts ${amount} in a savings account at {k}% interest a year. How much is there after {n} years?",
    "{first} and {first2} split a ${amount2} dinner bill equally. How much does each pay?",
    "How does a credit card chargeback work in general?",
    "What is a good interview question for a {job}?",
    "Write a job description for a {job} at {company}.",
    "What should an onboarding checklist for a new {job} include?",
    "Ask {first} to review the pull request for the billing service.",
    "{first} is presenting the Q{k} roadmap tomorrow; can you draft an agenda?",
    "Let's meet at {time} in room {k} to go over the release plan.",
    "{first} and {first2} are pairing on the checkout bug; ping them if the tests fail.",
    "Tell {first} the staging database is back up.",
    "{first}'s branch broke the build on {day}; can you look at the CI log?",
    "Book a table for {k} people for the team lunch on {day}.",
    "Give me three ideas for a team offsite in {city}.",
    "What is the capital of {country}?",
    "Translate 'the patient should rest for two days' into Spanish.",
    "Write a short story about a doctor in {city} who cures a mysterious illness.",
    "What does HR usually mean by a performance improvement plan?",
    "How do companies usually calculate overtime pay?",
    "Explain how the interest rate changes the monthly payment on a ${amount} mortgage, with an example.",
    "What vaccinations are recommended for travellers to {country}?",
    "How many days of annual leave do employees in {country} get by law?",
    "Summarize the plot of a film where a lawyer defends a client accused of {charge}.",
    "{first} from the platform team asked: what is our retry policy for failed payments?",
    "{first} shared a great article on {topic}; can you summarise it for the newsletter?",
    "Congratulations to {first} on shipping the new search page!",
    "Who is giving the talk on {topic} at the all-hands on {day}?",
    "The invoice module throws a null pointer when the total is zero; fix it.",
    "Design a database schema for patients, doctors and appointments for a clinic app.",
    "What's the weather usually like in {city} in {month}?",
    "How do I politely decline a meeting invite from {first}?",
    "and one more idea for the lunch, please",
    "What is {k}{p} times {n}?",
    "I'm running {n} minutes late to standup.",
    "I'm heading to lunch, back at {time}.",
    "My laptop is so slow today.",
    "I agree with {first}, let's ship it.",
    "What time is it in {city} right now?",
    "How long is the train ride from {city} to {city2}?",
    "I'm out of coffee, is anyone going to the shop?",
    "My favourite season is autumn.",
    "I finally finished the quarterly report!",
    "Can you recommend a good book about {topic}?",
]

ZH: list[tuple[str, str]] = [
    ("health", "{name}最近{symptom}，医生说是{condition}，吃{drug}要注意什么？"),
    ("health", "我{relative}今年{adult_age}岁，有{condition}，最近老是{symptom}，需要去医院吗？"),
    ("health", "帮我给{name}写个请假条，{he}这周在医院做{procedure}。"),
    ("health", "我在吃{drug}，能同时喝酒吗？我有{condition}。"),
    ("health", "患者{name}，{age}岁，主诉{symptom}{n}天，既往{condition}，请帮我写一份转诊单。"),
    ("health", "我老公确诊了{condition}，我们家饮食要怎么调整？"),
    ("health", "提醒我每天早上{time}吃{drug}"),
    ("health", "{name}的体检报告显示血脂偏高，要不要复查？"),
    ("health", "我最近{symptom}很严重，晚上睡不着，该挂哪个科？"),
    ("health", "孩子{age}岁，{symptom}，{drug}一次吃多少合适？"),
    ("health", "同事{name}说{he}做完{procedure}以后一直{symptom}，怎么安慰{he}？"),
    ("health", "我怀孕{n}周了，可以吃{drug}吗？"),
    ("health", "{first}跟我说{he}得了{condition}，让我别告诉别人，我该怎么帮{he}？"),
    ("health", "记一下：今天吃完{drug}又{symptom}了，这周第三次。"),
    ("health", "医生让我开始吃{drug}治{condition}，我有点担心副作用。"),
    ("health", "客户{name}说{he}在吃{drug}，{condition}没控制好之前不能出差。"),
    ("health", "我{relative}上周{procedure}，现在还在住院，我想请几天假照顾。"),
    ("finance", "我的{bank}信用卡尾号{last4}昨天被刷了{amount}元，不是我本人消费，怎么办？"),
    ("finance", "我月薪{amount}，房贷每月还{amount2}，还能再买车吗？"),
    ("finance", "{name}还欠我{amount}块钱，帮我写条催款消息。"),
    ("finance", "我有{n}万存款，还有{amount2}元信用卡欠款，先还哪个？"),
    ("finance", "{name}今年的年终奖是{amount}元，个税大概要交多少？"),
    ("finance", "我在{bank}的贷款逾期了{n}天，会影响征信吗？"),
    ("finance", "帮我算一下这个月的开销：房租{amount}，车贷{amount2}，工资到手{amount}。"),
    ("finance", "给{bank}客服写一段话，说明我尾号{last4}的储蓄卡被盗刷了{amount}元。"),
    ("finance", "我和{first}的共同账户里还剩{amount}，下个月的房租够不够？"),
    ("finance", "我的公积金账户余额是{amount}元，能贷多少？"),
    ("finance", "装修预算{amount}元，我爸还能借我{amount2}，帮我排个计划。"),
    ("finance", "我在{bank}申请的{amount}元贷款被拒了，帮我写封信问原因。"),
    ("finance", "上个月我花了{amount}元在外卖上，帮我看看怎么省钱。"),
    ("legal", "我被{company}起诉了，要求赔偿{amount}元，开庭是{date}，该怎么准备？"),
    ("legal", "{name}因为酒驾被拘留了，家属能去看{he}吗？"),
    ("legal", "我和前夫{first}在打离婚官司，孩子的抚养权怎么争取？"),
    ("legal", "我欠网贷{amount}元，被催收公司威胁，该报警吗？"),
    ("legal", "帮我给律师{name}写封邮件，问问我的劳动仲裁案有什么进展。"),
    ("legal", "我弟弟因为盗窃被判了{n}个月，能申请缓刑吗？"),
    ("legal", "{name}被公司指控泄露商业机密，{he}该怎么应对？"),
    ("legal", "我收到了法院传票，下周{day}要出庭，被告是我。"),
    ("legal", "邻居{name}说要告我，因为我家狗咬了{he}家孩子。"),
    ("legal", "{first}被派出所叫去做笔录了，说是跟上个月的打架有关。"),
    ("legal", "我开车撞了人，对方{name}要我赔{amount}元，保险公司不认。"),
    ("hr", "帮我给HR写个请假申请，{date}到{date2}请{leave}。"),
    ("hr", "{name}这次绩效考核拿了C，我该怎么跟{he}谈？"),
    ("hr", "我想从{company}离职，帮我写辞职信，最后工作日是{date}。"),
    ("hr", "我的工作签证{month}到期，续签需要准备哪些材料？"),
    ("hr", "我投了{company}的{job}岗位，面试在{day}，帮我准备自我介绍。"),
    ("hr", "{name}申请了{leave}，{he}手上的工作谁来接？"),
    ("hr", "我被{company}裁员了，工作了{n}年，月薪{amount}，补偿金怎么算？"),
    ("hr", "下周和领导{name}谈晋升，我去年考评是B+，怎么开口？"),
    ("hr", "{first}试用期表现不好，帮我写一份不予转正的说明。"),
    ("hr", "我想举报主管{name}在会上对我进行人身攻击，流程是什么？"),
    ("hr", "我拿到两个offer，{company}给{amount}，另一家给{amount2}，选哪个？"),
    ("family", "我和老公最近总吵架，要不要去做婚姻咨询？"),
    ("family", "我女儿{first}在{school}被同学欺负，怎么跟老师沟通？"),
    ("family", "{name}的父亲上周去世了，帮我写一段慰问的话。"),
    ("family", "我和女朋友{first}分手了，心里很难受，想找人聊聊。"),
    ("family", "我爸妈要离婚了，我夹在中间不知道怎么办。"),
    ("family", "{name}刚生了二胎，帮我挑个满月礼物。"),
    ("family", "我儿子{age}岁，最近不愿意跟我说话，怎么办？"),
    ("family", "我{relative}下个月要搬来跟我们一起住，我有点崩溃。"),
    ("family", "{first}和{first2}闹离婚，两家老人都来找我评理。"),
    ("family", "我{relative}总找我借钱，不知道怎么拒绝。"),
    ("family", "保姆{first}每天三点接孩子，跟她说{day}孩子要去看牙。"),
    ("whereabouts", "我下{day}和{first}去{city}，住在{hotel}，帮我订接机。"),
    ("whereabouts", "{name}现在住在{address}，把快递寄过去。"),
    ("whereabouts", "我家在{address}，附近有什么好的幼儿园？"),
    ("whereabouts", "我{month}要带孩子回{city}老家住两周，帮我排一下行程。"),
    ("whereabouts", "{name}这几天在{city}出差，住{hotel}，有急事可以去酒店找{he}。"),
    ("whereabouts", "每周三下午我都在{school}门口接儿子放学。"),
    ("whereabouts", "我的航班{flight}，{date}下午到{city}，让{first}来机场接我。"),
    ("whereabouts", "我计划{month}和朋友{first}去{city}玩{n}天，预算{amount}元，帮我做个攻略。"),
    ("whereabouts", "{first}上个月搬到{city}了，新家就在{street}附近。"),
    ("whereabouts", "我们{date}出发去{city}，家里{address}这段时间没人。"),
    ("whereabouts", "{name}晚上{time}下班，一般走{street}回家。"),
    ("identity", "我叫{name}，{year}年出生在{city}，帮我填一下这张入职表。"),
    ("identity", "我的{platform}账号被封了，帮我写个申诉，说明是本人操作。"),
    ("identity", "我是{name}，身份证快过期了，在{city}换证需要带什么？"),
    ("identity", "我{adult_age}岁，少数民族，申请{company}的岗位有加分吗？"),
    ("identity", "我的{platform}账号被冻结了，里面还有{amount}元，帮我给客服写解封申请。"),
    ("identity", "有人盗了我的{platform}号，还改了绑定手机，我该怎么证明是本人？"),
    ("identity", "背景调查要填：本人{name}，{year}年生，籍贯{city}，帮我看看格式。"),
    ("identity", "我的{platform}登录名是{first}{year}，密保问题忘了。"),
    ("correspondence", "帮我给{company}的{name}写封邮件，提醒{he}发票{inv}的{amount}元还没付。"),
    ("correspondence", "回复{name}：{month}的报销单我收到了，{day}前处理。"),
    ("correspondence", "帮我写条消息给同事{first}，说{company}的合同续签要推迟到{date}，金额改成{amount}元。"),
    ("correspondence", "跟{first}说一声，{company}的{name}又打电话来催那笔尾款了。"),
    ("correspondence", "总结一下{name}发来的邮件：{month}的发票在附件里，请在{date}前付款{amount}元。"),
    ("correspondence", "告诉财务{first}，我去{city}出差的{amount}元报销还没到账。"),
    # 更多人事、家庭和身份
    ("hr", "我下周{day}要去医院复查{condition}，帮我跟{first}请个假。"),
    ("hr", "帮我写封辞职信，我打算{month}底离职，主要是跟主管{first}合不来。"),
    ("hr", "我试用期没通过，HR让我{date}之前走人，补偿怎么算？"),
    ("hr", "我今年绩效被打了C，主管{name}说明年可能要调岗，我该怎么办？"),
    ("hr", "我在偷偷准备{company}的面试，别让现在的领导知道。"),
    ("hr", "我想申请{leave}，从{date}到{date2}，帮我写个申请。"),
    ("hr", "我的工作签证{month}到期，公司还没帮我续。"),
    ("family", "我老婆怀孕{n}个月了，帮我写个陪产假申请。"),
    ("family", "我和我老公在闹离婚，孩子的抚养权怎么争取？"),
    ("family", "我儿子在{school}被同学欺负了，怎么跟老师沟通？"),
    ("family", "我爸{month}走了，我还没缓过来，这周的会帮我推掉。"),
    ("family", "我跟女朋友分手了，心情很差，帮我请一天假。"),
    ("family", "我{relative}背着家里欠了网贷{amount}元，我该怎么跟家里说？"),
    ("health", "我妈最近总忘事，医生怀疑是老年痴呆，我该怎么照顾她？"),
    ("identity", "我的身份证丢了，户口在{city}，补办要带什么？"),
    ("identity", "我的{platform}账号被封了，帮我写个申诉，说明都是我本人操作的。"),
    ("identity", "我是{year}年出生的，户籍在{city}，帮我填一下这张入职表。"),
    ("identity", "帮我把实名认证改成我的真名{name}，{platform}上一直验证不过。"),
    ("whereabouts", "我这周住在{city}的{hotel}，{day}晚上才回家。"),
    ("whereabouts", "{name}每天晚上{time}一个人从公司走回{street}的家。"),
    ("identity", "我朋友{first}没有身份证，一直上不了户口，去医院都不方便。"),
    ("identity", "有人用我的身份信息在{platform}开了账户，怎么报案？"),
    ("identity", "{name}的护照号和家庭住址被误发到了群里，怎么处理？"),
    ("hr", "{first}背调没通过，{day}要通知{him}。"),
    ("hr", "帮我给{name}写一封警告信：这个月第三次无故缺勤。"),
    ("hr", "{first}让我别告诉别人{he}在面{company}。"),
    ("hr", "我这次考核只拿了2分，想申诉。"),
    ("health", "{first}{day}要做活检，谁帮{him}顶一下值班？"),
    ("health", "我总忘记吃{drug}，每天{time}提醒我。"),
    ("health", "我家孩子{age}岁，{symptom}{n}天了，要不要去急诊？"),
    ("legal", "{first}是一起诈骗案的证人，{date}要出庭。"),
    ("legal", "我{relative}上周末酒驾被抓，驾照可能要被吊销。"),
    ("family", "我跟我{relative}吵架之后一直没说话，帮我写条消息给{him}。"),
    ("family", "{first}在做试管，想申请弹性上班。"),
    ("family", "我{relative}下个月要住进养老院，我得请{n}天假。"),
    ("whereabouts", "{first}住在{city}的{hotel}，到{date}为止，资料寄到那里。"),
    ("whereabouts", "我{relative}坐{flight}航班{time}落地，我得早点下班去接。"),
    ("finance", "我{relative}借了我{amount}元付首付，我每月还{amount2}。"),
    ("finance", "发工资前我卡里只剩{amount}元了。"),
    ("correspondence", "回复{name}：你{month}开的{amount}元发票我们付了两次，请退一次。"),
]

ZH_NEGATIVE: list[str] = [
    "{condition}好发的部位是",
    "{drug}的主要不良反应是什么？",
    "下列哪项是{condition}的典型症状？A.发热 B.{symptom} C.腹泻 D.皮疹",
    "{condition}的发病机制是什么？",
    "成人{drug}的最大日剂量是多少？",
    "患者，男，{adult_age}岁，{symptom}3天，最可能的诊断是（ ）A.肺炎 B.胸膜炎 C.气胸 D.心绞痛",
    "{procedure}的适应证有哪些？",
    "为什么高原上容易出现{symptom}？",
    "预防{condition}一般有哪些生活方式建议？",
    "根据《民法典》，诉讼时效一般是几年？",
    "什么是正当防卫？",
    "下列关于合同效力的说法，正确的是（ ）",
    "刑法中缓刑的适用条件有哪些？",
    "甲乙二人签订买卖合同，甲未按期交货，乙可以主张哪些权利？",
    "劳动仲裁的时效是多久？",
    "醉驾和酒驾在法律上有什么区别？",
    "小明有{p}元，买了{k}本书，每本2元，还剩多少钱？",
    "{first}每月工资{amount2}元，存下十分之一，一年能存多少？",
    "什么是复利？怎么计算？",
    "信用卡的年化利率怎么算？",
    "某公司营业收入{amount}万元，净利润{amount2}万元，净利率是多少？",
    "国债和企业债有什么区别？",
    "个人所得税的起征点是多少？",
    "一件商品原价{amount2}元，打八折后多少钱？",
    "去{city}旅游一周一般预算多少比较合适？",
    "劳动法规定的年假是几天？",
    "绩效考核常用的方法有哪些？",
    "怎么写一份好的简历？",
    "申请美国学生签证一般需要哪些材料？",
    "试用期最长可以约定多久？",
    "亲子沟通有哪些常用技巧？",
    "写一首关于母爱的诗。",
    "中国的法定结婚年龄是多少？",
    "{city}有哪些必去的景点？",
    "从{city}到{city2}坐高铁要多久？",
    "{city}的气候怎么样，几月去最好？",
    "帮我规划一个{city}三日游的通用行程。",
    "{k}7乘以23等于多少？",
    "给团队午餐出三个主意。",
    "记住我喜欢喝绿茶。",
    "我更喜欢深色模式，记一下。",
    "把“大家早上好”翻译成英文。",
    "写一首关于秋天的短诗。",
    "Python 里怎么把列表倒序？",
    "跟{first}说一下PPT做得很好。",
    "让{first}有空帮我看一下代码评审。",
    "{name}和{first2}负责这周的版本发布。",
    "{city}是哪个省的省会？",
    "用三句话总结一下{topic}。",
    "帮我约个{day}{time}的周会。",
    "写一下2.{k}版本的更新说明：搜索更快了，新增导出按钮。",
    "Docker 构建报错 no space left on device 怎么办？",
    "{name}写了一篇关于{topic}的文章，帮我总结一下。",
    "推荐三本讲{topic}的书。",
    "请校对这句话：季度规划已附上，欢迎在{day}前反馈。",
    "{year}年世界杯冠军是谁？",
    "PostgreSQL 和 SQLite 哪个适合小团队的知识库？",
    "{topic}的基本原理是什么？",
    "下列选项中，属于{condition}并发症的是（ ）",
    "银行存款准备金率调整对经济有什么影响？",
    # 常识、考题、应用题和工作群里的日常，提到敏感的词或同事，但不涉及谁的隐私
    "{drug}一般成人的常用剂量是多少？",
    "为什么{condition}会引起{symptom}？",
    "{procedure}一般多久能恢复？",
    "{symptom}是{drug}的常见副作用吗？",
    "过错责任和无过错责任有什么区别？",
    "劳动合同到期不续签，公司需要支付经济补偿吗？",
    "租客退租时，房东可以扣押金吗？",
    "{first}每小时赚{p}元，工作{k}小时，一共赚多少钱？",
    "一件衣服原价{amount2}元，打{k}折后多少钱？",
    "{first}把{amount}元存入银行，年利率{k}%，{n}年后本息一共多少？",
    "{first}和{first2}平摊一顿{amount2}元的饭钱，每人付多少？",
    "信用卡分期的手续费一般怎么算？",
    "给{job}岗位写一份招聘JD。",
    "面试{job}可以问哪些问题？",
    "让{first}帮忙review一下这个PR。",
    "{first}明天讲产品路线图，帮我准备个议程。",
    "{time}在{k}号会议室开会，讨论发布计划。",
    "{first}和{first2}在一起排查支付的bug，测试挂了就找他们。",
    "告诉{first}测试环境的数据库恢复了。",
    "{day}中午团建吃饭，订{k}个人的位子。",
    "给团建出三个主意，地点在{city}。",
    "{city}有哪些值得去的地方？",
    "写一个医生在{city}治好怪病的小故事。",
    "HR说的绩效改进计划一般指什么？",
    "加班费一般怎么计算？",
    "出国旅游一般需要打哪些疫苗？",
    "法定年假一般有多少天？",
    "设计一个医院挂号系统的数据库表结构。",
    "恭喜{first}上线了新的搜索页！",
    "{first}分享了一篇讲{topic}的好文章，帮我总结一下放进周报。",
    "下列哪项不属于{condition}的并发症？",
    "{condition}的早期筛查方法有哪些？",
    "小明有{amount2}元，买了{k}本书，每本{p}元，还剩多少钱？",
    "{first}问新同事的报销流程该怎么介绍。",
    "我站会要晚到{n}分钟。",
    "我去吃饭了，{time}回来。",
    "我电脑今天好卡。",
    "同意{first}的意见，发吧。",
    "{city}现在几点？",
    "从{city}坐高铁到{city2}要多久？",
    "咖啡喝完了，谁去楼下买？",
    "我最喜欢秋天。",
    "季度报告终于写完了！",
    "推荐一本讲{topic}的书吧。",
]

# --- composed prompts: who + a private fact + an ask, in many orders ---------------------------------------------
# Each fact template is one "template" for the split; subjects and asks are shared, so the held-apart part holds
# private facts phrased in ways the tuning part never showed.
EN_WHO = ["I", "my {relative}", "{name}", "my colleague {first}", "a patient named {first}", "our client {name}",
          "{first} from the sales team", "my friend {first}", "my {relative} {first}", "{first}, my manager,",
          "the new hire {name}", "my neighbour {first}"]
EN_FACTS: list[tuple[str, str]] = [
    ("health", "{who} was diagnosed with {condition} in {month}"),
    ("health", "{who} has been taking {drug} twice a day for {condition}"),
    ("health", "{who} keeps getting {symptom} since the {procedure}"),
    ("health", "{who} is in the hospital with {condition} and won't be back until {date}"),
    ("health", "{who} started chemo for {condition} last {day}"),
    ("health", "{who} has an appointment with a psychiatrist on {day} about {his} panic attacks"),
    ("health", "{who} tested positive for COVID and has {symptom}"),
    ("health", "{who} is allergic to {drug} and nearly went into shock last time"),
    ("health", "{who} goes to rehab on {day}s for {his} alcohol problem"),
    ("health", "the doctor told {who} that the biopsy shows {condition}"),
    ("finance", "{who} owes {amount} dollars on a {bank} credit card and can't make the minimum payment"),
    ("finance", "{who} earns ${amount} a year before tax and has ${amount2} in savings"),
    ("finance", "{who} saw a ${amount} withdrawal on the {bank} account ending in {last4} that nobody made"),
    ("finance", "{who} is behind on the mortgage by {n} months"),
    ("finance", "{who} has a budget of {amount} USD for the move and a loan of ${amount2} from {bank}"),
    ("finance", "{who} lost ${amount} in crypto last month and hasn't told anyone"),
    ("finance", "{who} got a tax bill of ${amount} from the IRS"),
    ("finance", "the {bank} card ending with {last4} that {who} uses was charged ${amount} twice"),
    ("legal", "{who} was arrested for {charge} on {date}"),
    ("legal", "{who} is being sued by {company} for ${amount}"),
    ("legal", "{who} has a hearing in family court on {date} about custody"),
    ("legal", "{who} got a DUI last {month} and lost {his} licence"),
    ("legal", "{who} is under investigation for {charge}"),
    ("legal", "{who} signed a plea deal for {charge} and is on probation"),
    ("legal", "a lawyer sent {who} a letter saying {he} breached {his} NDA with {company}"),
    ("hr", "{who} is on a performance improvement plan until {month}"),
    ("hr", "{who} asked for {n} weeks of {leave} leave starting {date}"),
    ("hr", "{who} is interviewing at {company} for a {job} job and hasn't told the team"),
    ("hr", "{who} got a 'below expectations' rating in the last review"),
    ("hr", "{who} is waiting for a work visa renewal that expires in {month}"),
    ("hr", "{who} handed in {his} resignation to {company} today"),
    ("hr", "{who} was told {his} position at {company} will be cut in {month}"),
    ("hr", "{who} filed a harassment complaint against {name}"),
    ("family", "{who} and {his} husband are getting a divorce"),
    ("family", "{who} found out {his} partner has been cheating"),
    ("family", "{who} is expecting a second child in {month}"),
    ("family", "{who} has not spoken to {his} father in {n} years"),
    ("family", "{who} just lost {his} mother to {condition}"),
    ("family", "{who} is going through a custody fight over {his} {n}-year-old"),
    ("family", "{who} is secretly dating {first} from accounting"),
    ("whereabouts", "{who} will be staying at the {hotel} in {city} from {date} to {date2}"),
    ("whereabouts", "{who} lives at {address}"),
    ("whereabouts", "{who} is flying to {city} on {flight} on {date} with {first}"),
    ("whereabouts", "{who} walks home alone along {street} every night around {time}"),
    ("whereabouts", "{who} is spending {month} at {his} parents' place in {city}"),
    ("whereabouts", "{who} just moved into a flat on {street} in {city}"),
    ("identity", "{who} was born on {date}, {year} in {city} and holds a {country} passport"),
    ("identity", "{who} got locked out of {his} {platform} account after a login from {city}"),
    ("identity", "{who} is {adult_age}, originally from {country}, and applying for citizenship"),
    ("identity", "{who} had {his} {platform} account suspended and needs to prove {he} owns it"),
    ("correspondence", "{who} sent over the {month} invoices for ${amount} and wants payment by {date}"),
    ("correspondence", "{who} emailed about the overdue invoice {inv} from {company}"),
    ("correspondence", "{who} is negotiating the ${amount} contract with {company} by email"),
    ("health", "{who} needs to take {drug} with food or {he} gets {symptom}"),
    ("health", "{who} has been seeing a counsellor since the miscarriage"),
    ("health", "{who} relapsed last week after {n} months sober"),
    ("health", "{who} has to get an MRI on {day} because of the {symptom}"),
    ("health", "{who} forgot to take the {drug} again and felt awful all day"),
    ("health", "{who} is recovering at home after the {procedure} and can't lift anything"),
    ("finance", "{who} maxed out the {bank} card and the payment is due on {date}"),
    ("finance", "{who} sends ${amount} a month to {his} parents and is short on rent"),
    ("finance", "{who} got a letter from a debt collector about ${amount}"),
    ("finance", "{who} cashed out ${amount} from the 401k to cover medical bills"),
    ("finance", "{who} transferred ${amount} from account ending {last4} by mistake"),
    ("legal", "{who} got served with eviction papers on {date}"),
    ("legal", "{who} is testifying against {name} in the fraud trial"),
    ("legal", "{who} has an outstanding warrant in {city} for unpaid fines"),
    ("legal", "{who} is fighting {company} in small claims court over ${amount}"),
    ("hr", "{who} is taking stress leave from {date} and doesn't want the team to know why"),
    ("hr", "{who} failed the background check for the {job} role"),
    ("hr", "{who} is negotiating a severance package with {company}"),
    ("hr", "{who} got passed over for promotion again and is thinking of quitting"),
    ("hr", "{who} needs a letter from HR for {his} green card application"),
    ("family", "{who} is moving {his} mother into a care home in {month}"),
    ("family", "{who} is trying to get pregnant and it's been hard"),
    ("family", "{who} found out {he} was adopted"),
    ("family", "{who} has been fighting with {his} teenage son about school every night"),
    ("family", "{who}'s marriage is falling apart after the affair"),
    ("whereabouts", "{who} will be alone at the cabin near {city} all weekend"),
    ("whereabouts", "{who} picks up {his} daughter from {school} at {time} every weekday"),
    ("whereabouts", "{who} is hiding at a friend's place on {street} until things calm down"),
    ("whereabouts", "{who} is on vacation in {city} until {date} and the house is empty"),
    ("identity", "{who}'s driver's licence number and date of birth were leaked in the breach"),
    ("identity", "{who} changed {his} legal name last year and the bank still uses the old one"),
    ("identity", "{who} is undocumented and worried about the new ID rules"),
    ("correspondence", "{who} wrote to say the ${amount} refund for order {inv} still hasn't come through"),
    ("correspondence", "{who} asked me by email to wire ${amount} to a new account before {day}"),
]
EN_ASKS = ["What should we do?", "Write a short note to the team about it.", "How should I bring this up?",
           "Can you remind me to follow up on {day}?", "Summarize this for my notes.", "Any advice?",
           "Draft a message I can send.", "What are the next steps?", "Please keep track of this.",
           "How do I handle this at work?", "Is this something to worry about?", "Help me plan around it."]
EN_FRAMES = ["{fact}. {ask}", "{ask} {Fact}.", "Context: {fact}. {ask}", "{Fact}, so {ask_lower}",
             "FYI {fact}.", "{Fact} — {ask_lower}", "Note for later: {fact}."]

ZH_WHO = ["我", "我{relative}", "{name}", "同事{first}", "患者{name}", "客户{name}", "我朋友{first}",
          "我们组的{first}", "新来的{name}", "我邻居{first}", "领导{name}", "我{relative}{first}"]
ZH_FACTS: list[tuple[str, str]] = [
    ("health", "{who}{month}查出了{condition}"),
    ("health", "{who}每天要吃两次{drug}控制{condition}"),
    ("health", "{who}做完{procedure}之后一直{symptom}"),
    ("health", "{who}因为{condition}住院了，{date}才能出院"),
    ("health", "{who}上{day}开始化疗了"),
    ("health", "{who}最近在看心理医生，说是{condition}"),
    ("health", "{who}对{drug}过敏，上次差点休克"),
    ("health", "医生说{who}的活检结果是{condition}"),
    ("health", "{who}这几天{symptom}，还发烧"),
    ("finance", "{who}在{bank}的信用卡欠了{amount}元，最低还款都还不上"),
    ("finance", "{who}税前月薪{amount}，存款{amount2}"),
    ("finance", "{who}尾号{last4}的{bank}卡被人取走了{amount}元"),
    ("finance", "{who}房贷已经断供{n}个月了"),
    ("finance", "{who}炒股亏了{amount}元，没敢跟家里说"),
    ("finance", "{who}这次搬家预算{amount}元，还从{bank}贷了{amount2}"),
    ("finance", "{who}的花呗和借呗加起来欠了{amount}"),
    ("legal", "{who}{date}因为打架被行政拘留了"),
    ("legal", "{who}被{company}起诉，要赔{amount}元"),
    ("legal", "{who}下个月要上法庭争孩子抚养权"),
    ("legal", "{who}酒驾被查，驾照被吊销了"),
    ("legal", "{who}因为涉嫌诈骗正在被调查"),
    ("legal", "{who}收到了律师函，说违反了和{company}的竞业协议"),
    ("hr", "{who}被列入了绩效改进计划，{month}前要达标"),
    ("hr", "{who}申请了{n}周的{leave}，从{date}开始"),
    ("hr", "{who}在偷偷面试{company}的{job}岗位"),
    ("hr", "{who}上次绩效考评拿了C"),
    ("hr", "{who}的工作签证{month}到期，还在等续签"),
    ("hr", "{who}今天向{company}提了离职"),
    ("hr", "{who}投诉了{name}职场骚扰"),
    ("family", "{who}和老公在闹离婚"),
    ("family", "{who}发现另一半出轨了"),
    ("family", "{who}{month}要生二胎了"),
    ("family", "{who}已经{n}年没跟父亲说话了"),
    ("family", "{who}的母亲上个月因为{condition}去世了"),
    ("family", "{who}在和财务部的{first}偷偷谈恋爱"),
    ("whereabouts", "{who}{date}到{date2}住在{city}的{hotel}"),
    ("whereabouts", "{who}住在{address}"),
    ("whereabouts", "{who}{date}坐{flight}和{first}一起去{city}"),
    ("whereabouts", "{who}每天晚上{time}一个人走{street}回家"),
    ("whereabouts", "{who}{month}一整个月都在{city}父母家"),
    ("whereabouts", "{who}刚搬到{city}{street}的新房子"),
    ("identity", "{who}{year}年出生在{city}，身份证下个月到期"),
    ("identity", "{who}的{platform}账号在{city}异地登录后被锁了"),
    ("identity", "{who}的{platform}账号被封，要证明是本人才能解封"),
    ("identity", "{who}{adult_age}岁，户口在{city}，正在办移民"),
    ("correspondence", "{who}发来了{month}的发票，一共{amount}元，要求{date}前付款"),
    ("correspondence", "{who}发邮件催{company}那张{inv}号发票的款"),
    ("correspondence", "{who}在邮件里和{company}谈{amount}元的合同"),
    ("health", "{who}吃{drug}一定要饭后吃，不然就{symptom}"),
    ("health", "{who}流产以后一直在看心理咨询"),
    ("health", "{who}戒酒{n}个月又复发了"),
    ("health", "{who}{day}要去做核磁共振，因为一直{symptom}"),
    ("health", "{who}又忘了吃{drug}，难受了一整天"),
    ("health", "{who}{procedure}后在家休养，不能提重物"),
    ("finance", "{who}的{bank}信用卡刷爆了，{date}要还款"),
    ("finance", "{who}每个月给父母打{amount}元，房租都不够了"),
    ("finance", "{who}接到催收电话，说欠了{amount}元"),
    ("finance", "{who}把公积金取了{amount}元付医药费"),
    ("finance", "{who}不小心从尾号{last4}的卡转错了{amount}元"),
    ("legal", "{who}{date}收到了法院的强制执行通知"),
    ("legal", "{who}要出庭指证{name}的诈骗案"),
    ("legal", "{who}在{city}有一张没处理的罚单被列入了失信名单"),
    ("legal", "{who}和{company}为了{amount}元在打官司"),
    ("hr", "{who}从{date}开始休病假，不想让同事知道原因"),
    ("hr", "{who}{job}岗位的背景调查没通过"),
    ("hr", "{who}在和{company}谈离职补偿"),
    ("hr", "{who}又没评上晋升，正在考虑辞职"),
    ("hr", "{who}办签证需要公司开在职证明"),
    ("family", "{who}{month}要把母亲送去养老院"),
    ("family", "{who}备孕一年了一直没怀上"),
    ("family", "{who}最近才知道自己是被领养的"),
    ("family", "{who}每天晚上都和上初中的儿子吵架"),
    ("family", "{who}的婚姻因为出轨快要破裂了"),
    ("whereabouts", "{who}这个周末一个人住在{city}郊区的民宿"),
    ("whereabouts", "{who}每个工作日{time}去{school}接女儿"),
    ("whereabouts", "{who}暂时躲在朋友{street}的家里"),
    ("whereabouts", "{who}在{city}度假到{date}，家里没人"),
    ("identity", "{who}的驾照号和生日在数据泄露里被曝光了"),
    ("identity", "{who}去年改了名字，银行还是旧名字"),
    ("identity", "{who}是黑户，担心新的实名制规定"),
    ("correspondence", "{who}来信说订单{inv}的{amount}元退款还没到"),
    ("correspondence", "{who}发邮件让我{day}前把{amount}元转到一个新账户"),
]
ZH_ASKS = ["该怎么办？", "帮我写个简短的说明发给团队。", "我该怎么开口？", "提醒我{day}跟进一下。",
           "帮我记下来。", "有什么建议？", "帮我起草一条消息。", "下一步该做什么？", "工作上怎么安排比较好？",
           "这个需要担心吗？", "帮我规划一下。"]
ZH_FRAMES = ["{fact}，{ask}", "{ask}{fact}。", "背景：{fact}。{ask}", "{fact}。{ask}", "备忘：{fact}。",
             "跟你说个事，{fact}，{ask}"]

EN_NEG_FRAMES = [
    "What is {thing}?", "Explain {thing} in simple terms.", "Write a quiz question about {thing}.",
    "Which of the following is true about {thing}? (A) it is rare (B) it is common (C) both (D) neither",
    "Summarize what textbooks say about {thing}.", "Give me a one-paragraph overview of {thing}.",
    "How would you teach {thing} to new employees?", "What are common misconceptions about {thing}?",
    "Is {thing} covered in the bar exam or the USMLE?", "Write a blog intro about {thing}.",
]
EN_NEG_THINGS = ["{condition}", "the side effects of {drug}", "how {drug} is metabolised", "a {procedure}",
                 "{charge} sentencing guidelines", "the FMLA", "parental leave policies in {country}",
                 "how credit card interest works", "the average salary of a {job}", "mortgage amortisation",
                 "custody law in general", "how visas for {country} work", "travel insurance",
                 "the history of {city}", "divorce rates in {country}", "{topic}", "bankruptcy law",
                 "performance review best practices", "how banks detect card fraud", "the symptoms of {condition}",
                 "the typical budget for a trip to {city}", "identity theft prevention", "invoice payment terms"]
EN_NEG_WORK = ["{first} will present the roadmap on {day}.", "Ask {first} whether the build is green.",
               "{first} fixed the flaky test, thanks {first2}!", "Can {first} and {first2} pair on the API today?",
               "Remind the team that {first} is hosting the demo at {time}.",
               "{name} suggested we switch to weekly releases; pros and cons?",
               "I prefer {food}; order some for the offsite.", "My favourite editor is Vim, remember that.",
               "I usually start work at {time}, schedule standups after that.",
               "I'm in {city} for the conference, what talks are worth seeing about {topic}?",
               "{first} has {k} boxes with {p} apples each. How many apples are there?",
               "If {first} walks {k} km a day for {p} days, how far does {he} walk?",
               "{first} bought {k} tickets at ${p} each. How much did {he} spend?"]
ZH_NEG_FRAMES = ["什么是{thing}？", "用通俗的话解释一下{thing}。", "出一道关于{thing}的选择题。",
                 "关于{thing}，下列说法正确的是（ ）", "教科书上怎么讲{thing}？", "简单介绍一下{thing}。",
                 "给新员工讲{thing}该怎么讲？", "关于{thing}有哪些常见误区？", "写一段介绍{thing}的开头。"]
ZH_NEG_THINGS = ["{condition}", "{drug}的副作用", "{drug}的代谢途径", "{procedure}", "缓刑制度", "劳动合同法",
                 "产假政策", "信用卡利息", "{job}的平均工资", "房贷等额本息", "离婚财产分割的一般规则",
                 "签证的办理流程", "旅游保险", "{city}的历史", "{topic}", "破产法", "绩效考核方法",
                 "银行如何识别盗刷", "{condition}的症状", "去{city}旅游的一般预算", "个人信息保护法",
                 "发票的付款条件"]
ZH_NEG_WORK = ["{first}{day}讲一下路线图。", "问问{first}构建过了没有。", "{first}修好了那个不稳定的测试，感谢{first2}！",
               "{first}和{first2}今天能一起对一下接口吗？", "提醒大家{time}{first}做演示。",
               "{name}建议改成每周发版，利弊是什么？", "我喜欢喝美式，团建的时候帮我点一杯。",
               "我一般{time}开始上班，站会排在那之后。", "我在{city}参加会议，关于{topic}有哪些值得听的报告？",
               "{first}有{k}箱苹果，每箱{p}个，一共多少个？", "{first}每天走{k}公里，走{p}天一共走多远？",
               "{first}买了{k}张票，每张{p}元，一共花了多少钱？"]


# The same people and asks with facts that are nobody's business: what makes a text private is the fact.
EN_PLAIN_FACTS = [
    "{who} is presenting the roadmap on {day}", "{who} fixed the login bug this morning",
    "{who} booked the big meeting room for {time}", "{who} wrote the design doc on {topic}",
    "{who} will run the demo for {company}", "{who} asked how {topic} works", "{who} prefers {food} at team lunches",
    "{who} suggested moving the standup to {time}", "{who} finished the quarterly slides",
    "{who} is reviewing the pull request for the search page", "{who} recommended a book about {topic}",
    "{who} wants the release notes by {day}", "{who} set up the new CI runner", "{who} is learning Rust",
    "{who} asked for the slides from the {city} conference", "{who} thinks we should rename the project",
    "{who} has {k} open tickets in the sprint", "{who} likes the new dashboard colours",
    "{who} is organising the team trivia night", "{who} moved the retro to {day}",
    "{who} read an article about {condition} research", "{who} is writing a report on {bank}'s quarterly results",
    "{who} asked what the statute of limitations means", "{who} is preparing a talk on parental leave policy",
    "{who} wants a summary of the new visa rules for the blog", "{who} booked the flights for the team offsite",
    "{who} compared {drug} and aspirin for a pharmacology quiz", "{who} is translating the court ruling for class",
    "{who} thinks the {city} office should get a new coffee machine", "{who} is drafting the invoice template",
    "{who} recommended a good pizza place near the office", "{who} loves hiking on weekends",
    "{who} baked cookies for the team", "{who} sent the link to the design review", "{who} asked for a standing desk",
    "{who} shared photos from the hackathon", "{who} won the office chess tournament",
    "{who} thinks the new logo looks great", "{who} asked whether the wiki is down",
    "{who} found a typo in the onboarding guide", "{who} suggested a book club at lunch",
    "{who} recommended a podcast about {topic}", "{who} asked me to review the pull request",
    "{who} signed up for the five-a-side football team",
]
ZH_PLAIN_FACTS = [
    "{who}{day}讲路线图", "{who}今天早上修好了登录的bug", "{who}订了{time}的大会议室", "{who}写了{topic}的设计文档",
    "{who}要给{company}做演示", "{who}问{topic}是怎么回事", "{who}团建的时候喜欢喝奶茶", "{who}建议把站会挪到{time}",
    "{who}做完了季度汇报的PPT", "{who}在评审搜索页的代码", "{who}推荐了一本讲{topic}的书", "{who}要在{day}前拿到发布说明",
    "{who}看了一篇关于{condition}研究的文章", "{who}在写{bank}季度财报的分析", "{who}问诉讼时效是什么意思",
    "{who}在准备一个讲产假政策的分享", "{who}想要一份新签证政策的总结", "{who}订好了团建的机票",
    "{who}为了药理学考试比较了{drug}和阿司匹林", "{who}在给课堂翻译一份判决书", "{who}觉得{city}办公室该换咖啡机了",
    "{who}在起草发票模板",
    "{who}推荐了公司附近一家好吃的面馆", "{who}周末喜欢爬山", "{who}给大家带了点心", "{who}发了设计评审的链接",
    "{who}申请了一张升降桌", "{who}分享了黑客松的照片", "{who}赢了公司的象棋比赛", "{who}觉得新logo挺好看",
    "{who}问wiki是不是挂了", "{who}在新人手册里找到一个错别字", "{who}提议午休搞个读书会",
    "{who}推荐了一个讲{topic}的播客", "{who}让我帮忙review一下PR", "{who}报名了公司的羽毛球赛",
    "{who}搭好了新的CI机器", "{who}在学Rust", "{who}想要{city}那个会议的资料", "{who}觉得项目该改个名字",
    "{who}这个迭代还有{k}个工单没关", "{who}喜欢新仪表盘的配色", "{who}在组织团队的知识竞赛", "{who}把复盘会改到了{day}",
]
EN_VIGNETTES = [
    "A {adult_age}-year-old {sex} presents with {symptom} and {symptom2}. Which of the following is the most likely diagnosis?",
    "A {adult_age}-year-old {sex} with a history of {condition} comes to the clinic because of {symptom}. What is the next best step in management?",
    "A {adult_age}-year-old {sex} is brought to the emergency department after a car crash. Which of the following findings is most likely?",
    "A {adult_age}-year-old {sex} taking {drug} develops {symptom}. Which adverse effect explains this?",
    "A man sues his neighbour after a tree falls on his car. Which of the following is the neighbour's best defense?",
    "A tenant stops paying rent after the landlord fails to repair the heating. Is the tenant liable for the rent?",
    "An employee is fired after reporting safety violations. Which of the following claims is strongest?",
    "A woman leaves her estate to her two children, but one of them dies before her. Who inherits?",
    "{first} buys a shirt for ${p} and a hat for ${k}. How much does {he} spend in total?",
    "{first} saves ${p} a week for {k} weeks. How much has {he} saved?",
]
ZH_VIGNETTES = [
    "患者，{sex_zh}，{adult_age}岁，因{symptom}入院，最可能的诊断是（ ）A.肺炎 B.胃炎 C.心绞痛 D.贫血",
    "患者，{sex_zh}，{adult_age}岁，既往{condition}病史，出现{symptom}，下一步首选的检查是（ ）",
    "某患者服用{drug}后出现{symptom}，最可能的原因是（ ）",
    "{adult_age}岁{sex_zh}性，{symptom}2周，查体可见什么体征？",
    "甲向乙借款{amount2}元，到期未还，乙可以在多长时间内起诉？",
    "某公司员工因举报违规被辞退，该员工可以主张哪些权利？",
    "甲立遗嘱将房产留给儿子，儿子先于甲死亡，房产由谁继承？",
    "{first}买了一件衣服{p}元，一顶帽子{k}元，一共花了多少钱？",
    "{first}每周存{p}元，存了{k}周，一共存了多少钱？",
    "某城市去年GDP为{amount2}亿元，今年增长6%，今年GDP是多少？",
]


# Technical talk that borrows medical and legal words ("diagnose the API", "virus", "health check"), and short
# chat lines: both are most of what a team assistant reads.
EN_TECH = [
    "Can you diagnose why the {topic} API is so slow today?", "The diagnosis for the outage: the cache had no TTL.",
    "Our antivirus flagged a virus in the build artefacts.", "Add a health check endpoint to the {company} service.",
    "The server is sick again, restart the workers.", "Run the test suite and tell me the symptoms of the failure.",
    "What's the root cause of the memory leak in the worker?", "Prescribe a fix for the flaky login test.",
    "The deploy pipeline has a fever: every job times out after {k} minutes.", "my number is {k}{p} in the queue",
    "Who is on call this week?", "ok", "thanks!", "hello there", "hi team", "good morning", "lgtm", "sounds good, ship it", "see you at {time}",
    "The contract tests for the billing API fail on {day}.", "Which license does the {topic} library use?",
]
ZH_TECH = [
    "帮我诊断一下为什么{topic}接口这么慢", "线上服务内存泄漏，诊断结果是缓存没设过期", "杀毒软件报了个病毒",
    "给{company}的服务加个健康检查接口", "服务器又病了，重启一下worker", "跑一下测试，看看失败的症状",
    "这个bug的病根在哪？", "构建流水线发烧了，每个任务都超时{k}分钟", "这周谁值班？", "好的", "谢谢！", "收到",
    "你好", "在吗", "早上好", "{time}见", "计费接口的契约测试{day}挂了", "{topic}这个库用的什么许可证？", "代码体检报告出来了，重复率{k}%",
    "我马上到", "我先下了，{day}见", "我觉得这个方案可以", "我同意{first}的看法", "我看一下再回你", "我手机没电了，晚点回",
    "我在开会，{time}以后找我", "我这边测过了没问题", "我把文档发群里了", "我号码没变，还是之前那个", "我到公司了",
    "我的电脑又卡了", "我更喜欢第二版设计", "我今天在家办公", "我的代码已经合进去了", "我号召大家{day}一起吃饭",
]
# The team's everyday work, the bulk of what a team assistant is asked: code, data, operations, plans, writing.
# Each artefact is one template; the verb and the constraint vary.
EN_WORK_VERBS = ["Write", "Draft", "Review", "Refactor", "Explain", "Summarize", "Debug", "Optimize", "Design",
                 "Plan", "Help me with", "Can you improve", "Give me feedback on", "Sketch"]
EN_WORK_ARTEFACTS = [
    "a bash script that rotates logs older than {k} days", "a SQL query that finds duplicate users",
    "the migration plan from Jenkins to GitHub Actions for {k}0 repos", "our Q{k} technical roadmap",
    "a Python function that parses CSV exports", "the Kubernetes deployment for the billing service",
    "the incident report for last night's outage", "a regex for ISO dates", "an index on the orders table",
    "the onboarding doc for new engineers", "unit tests for the payment module", "a Dockerfile for the API",
    "the release checklist", "the KeyError 'user_id' in handler.py line {k}2", "the p95 latency regression after the deploy",
    "a dashboard of signups per day", "the on-call rotation for {month}", "an A/B test of the pricing page",
    "validation for international phone number fields", "a Luhn check for credit card numbers in the checkout form",
    "a cron job that backs up the database at {time}", "the invoice PDF generator", "a query over the patients table for the clinic demo",
    "the sharding plan for the {k}0M-row events table", "the retry policy of the webhook sender", "the README of the CLI",
]
EN_WORK_TAILS = ["", "", " with comments", " in Go", " without downtime", " by {day}", ", keep it short", " with phases and risks",
                 " for the {company} integration", "; {first} wants it today"]
ZH_WORK_VERBS = ["写一个", "帮我review", "优化一下", "解释一下", "设计", "总结", "排查", "规划", "帮我改进", "给点意见："]
ZH_WORK_ARTEFACTS = [
    "日志轮转的bash脚本", "找出重复用户的SQL", "从Jenkins迁移到GitHub Actions的方案", "Q{k}技术规划", "解析CSV的Python函数",
    "计费服务的K8s部署", "昨晚故障的复盘报告", "匹配日期的正则", "订单表加索引", "新人入职文档", "支付模块的单元测试",
    "API的Dockerfile", "发布检查清单", "handler.py里的KeyError报错", "上线后p95延迟变高的问题", "每日注册数的看板",
    "{month}的值班表", "定价页的A/B测试", "手机号字段的校验规则", "结账页信用卡号的Luhn校验", "每天{time}备份数据库的定时任务",
    "发票PDF生成器", "分库分表的迁移方案", "webhook的重试策略", "CLI的README", "客户演示用的病例表查询",
]
ZH_WORK_TAILS = ["", "", "，加上注释", "，用Go写", "，要求不停机", "，{day}前要", "，简短一点", "，包括里程碑和风险",
                 "，给{company}对接用", "，{first}今天就要"]
EN_WORK_NOTES = ["issue #{inv} is still open, can someone take it", "the last release went out on {date}",
                 "port {inv} is already in use", "order {inv} still shows pending, can you chase the vendor?",
                 "revenue grew {k}0% this year to ${amount2}k", "users say the password reset flow is too complex",
                 "{first} is off today, who picks up the deploy?", "the invoice number is INV-{inv}, has the client paid it?"]
ZH_WORK_NOTES = ["issue #{inv} 还没人处理，谁来接一下", "上次发布是{date}", "端口{inv}被占用了", "订单{inv}一直显示待发货，帮我催一下供应商",
                 "公司今年营收增长了{k}0%", "用户投诉密码重置流程太复杂", "{first}今天不在，发布谁来跟？", "发票号INV-{inv}，客户付了没有？"]


def _work(slots: Slots, rng: random.Random, lang: str, artefact: str) -> str:
    if lang == "en":
        return slots.fill(f"{rng.choice(EN_WORK_VERBS)} {artefact}{rng.choice(EN_WORK_TAILS)}", lang)
    return slots.fill(f"{rng.choice(ZH_WORK_VERBS)}{artefact}{rng.choice(ZH_WORK_TAILS)}", lang)


# What an assistant reads besides chat: instructions, documentation, tool descriptions. Long and neutral.
EN_DOCS = [
    "You are a helpful assistant for a small team. Answer briefly, use tools when they help, and never invent facts.",
    "Use the search tool to find documents; cite the title of each one you used. Keep answers under {k}00 words.",
    "The deploy script builds the image, runs the migrations and restarts the workers one at a time.",
    "This skill explains how the team handles release notes: collect merged pull requests, group them, and post a summary on {day}.",
    "Tool: calendar.create(title, start, end). Creates an event in the team calendar and returns its id.",
    "Members can ask for reminders, summaries of long threads, and drafts of messages; admins can change the settings.",
    "The onboarding checklist covers the laptop, the accounts, the code review rules and the on-call rotation.",
    "When a question is ambiguous, ask one short clarifying question before answering.",
    "Our style guide: short sentences, active voice, no jargon, numbers as digits, dates as {month} 3, 2025.",
    "The API returns 429 when the rate limit is exceeded; clients should retry after the number of seconds in Retry-After.",
]
ZH_DOCS = [
    "你是团队的助手，回答要简洁，需要时使用工具，不要编造事实。", "用搜索工具查找文档，并注明引用的标题，回答不超过{k}00字。",
    "部署脚本会构建镜像、执行数据库迁移，然后逐个重启worker。", "这个技能说明团队如何写发布说明：收集合并的PR，分组后在{day}发总结。",
    "工具：calendar.create(标题, 开始, 结束)，在团队日历里创建事件并返回编号。", "成员可以让助手设提醒、总结长讨论、起草消息；管理员可以修改设置。",
    "入职清单包括电脑、账号、代码评审规则和值班安排。", "问题有歧义时，先问一个简短的澄清问题再回答。",
    "写作规范：短句、主动语态、少用术语、数字用阿拉伯数字。", "接口超出限流时返回429，客户端应按Retry-After的秒数重试。",
]
# How the assistant itself frames what it recalls: a system prompt, memory lines and a transcript. The frames
# wrap private facts and harmless ones alike (see _framed), so only the words inside decide.
EN_PERSONAS = [
    "You are {company}'s assistant, living in the team's group chats. Each member has their own assistant context: you act for one member at a time (named below each message). Be brief and friendly.",
    "You are the assistant of a team. You are currently acting for the member named below; answer in the language they write in, and say when you are unsure.",
    "You help a team of {k} people in their chats. Every member has a private context; you never mix them. Keep answers short and concrete.",
    "Here is everything I was given: you are a team assistant acting for one member, with tools for search, files and reminders.",
    "Each member has their own assistant context. You are acting for {first} now; the group transcript below shows what others said.",
]
ZH_PERSONAS = [
    "你是{company}团队的助手，住在团队的群聊里。每个成员都有自己的助手上下文：你一次只为一个成员服务（名字写在每条消息下面）。回答简洁友好。",
    "你是一个团队的助手，现在为下面署名的成员服务；用对方的语言回答，不确定时要说明。",
    "你在聊天里帮助一个{k}人的团队。每个成员的上下文是私密的，不能混在一起。回答简短具体。",
    "我收到的全部内容如下：你是团队助手，为一位成员服务，可以用搜索、文件和提醒工具。",
]
EN_CHAT = [
    "I'm on my way", "I'll be 5 minutes late to the sync", "I agree with {first}", "I'll take a look and get back to you",
    "my laptop battery died, back soon", "I'm in a meeting until {time}", "I tested it on my machine, works fine",
    "I posted the doc in the channel", "my number hasn't changed", "I'm at the office", "my build is green now",
    "I like the second design better", "I'm working from home today", "my PR got merged", "I vote for pizza on {day}",
]


# --- more templates, in forms the first ones lack ---------------------------------------------------------------------
# Casual chat with typos and emoji, e-mails and forms, notes, requests to translate or summarise text that carries
# someone's private details, code and data tasks, and third-person facts; the negatives are exam questions in many
# subjects (medicine, law, accounting, arithmetic), fiction, news about public figures, tech metaphors and team chat.
# They are built after the rows above with their own random stream, so the earlier rows and their ids do not move.
EN_MORE: list[tuple[str, str]] = [
    ("health", "ugh my {relative} fainted at dinner again 😟 docs think its {condition}, anyone know a good cardiologist in {city}?"),
    ("health", "Subject: Absence\n\nHi {first},\n\nI won't be in until {day}. I've been diagnosed with {condition} and my doctor has me on {drug} for the next {n} weeks.\n\nBest,\n{first2}"),
    ("health", "Can you translate this into Spanish for my mother's nurse: 'She takes {drug} twice a day and gets {symptom} at night.'"),
    ("health", "Summarise this discharge note for the family group chat: {name}, {adult_age}, admitted {date} with {symptom}, discharged on {drug}."),
    ("health", "fyi {first} won't make standup, {he}'s at the fertility clinic again"),
    ("health", "I relapsed last weekend after {n} months sober. I don't want anyone at work to know."),
    ("health", "{first} in design has been losing weight fast and told me it's an eating disorder. Should I tell our manager?"),
    ("health", "insert into patients (name, dob, diagnosis) values ('{name}', '{date}', '{condition}'); -- run this on the clinic db"),
    ("health", "Our standup is at 10 but I see my psychiatrist every other {day} morning, can you move it without saying why?"),
    ("health", "Note to self: blood sugar was 2{k}0 this morning, skip the cake at {first}'s party."),
    ("health", "quick q: is it normal that my scar from the {procedure} is still red after {n} weeks?"),
    ("health", "Thanks everyone for the flowers 🙏 the {procedure} went fine, I'll be back on {date} but still on {drug}."),
    ("health", "My grandpa has dementia and keeps calling me at 3am. How do other people cope with this?"),
    ("health", "Emergency contact form for {name}. Allergies: penicillin. Current medication: {drug}. Conditions: {condition}."),
    ("health", "{name} is HIV positive and asked me to help find a clinic in {city} that nobody from work goes to."),
    ("health", "I tested positive for COVID this morning, so I can't come to {first}'s farewell lunch."),
    ("health", "can u help me write a msg to my boss that i need time off after my miscarriage without saying too much"),
    ("health", "I've had panic attacks every night this week and can't focus on the release. What can I do tonight?"),
    ("health", "Log for {first}'s diabetes diary: {time}, glucose {k}.{k} mmol/L, took {n} units of insulin."),
    ("finance", "my paycheck bounced again?? {bank} says insufficient funds but i had ${amount} in there yesterday"),
    ("finance", "Here's my monthly budget, tell me where I'm overspending: rent {amount2}, car payment 4{k}0, groceries 6{k}0, takeout 3{k}0. Take-home is ${amount}."),
    ("finance", "{first} confided that {he} is ${amount} in debt from gambling and is hiding it from {his} partner."),
    ("finance", "Translate to German for the landlord: I lost my job and can only pay half of the rent ({amount2} euros) this month."),
    ("finance", "Card: {bank} debit, last four {last4}, expires 0{k}/2{k}. Why was it declined at the pharmacy?"),
    ("finance", "Honeymoon plan: {n} nights in {city}, we have {amount} USD in total including flights, and my wife wants the {hotel}."),
    ("finance", "I inherited ${amount} from my aunt. Should I pay off my mortgage or invest it?"),
    ("finance", "Payroll question: {name}'s bonus this year is ${amount2}, can you check the tax withholding?"),
    ("finance", "We're {n} months behind on the mortgage with {bank} and got a foreclosure letter today."),
    ("finance", "sold my car for {amount2}, still owe my sister ${amount}, whats left for the deposit"),
    ("finance", "CSV row from my bank export: {date},{company},-{amount2}.00,{bank} ****{last4} - categorise it for my budget."),
    ("finance", "Our household income is ${amount} and we have three kids; do we qualify for free school meals?"),
    ("finance", "{first} asked to borrow ${amount2} for {his} rent again. Third time this year. How do I say no kindly?"),
    ("finance", "My crypto wallet got drained last night, I lost about ${amount}. Is there any way to get it back?"),
    ("finance", "Help me negotiate: I earn ${amount} now and the offer from {company} is ${amount2}."),
    ("legal", "lawyer says i might get {n} months for the {charge} thing, how do i tell my parents"),
    ("legal", "{first}'s immigration lawyer called: the deportation hearing is on {date}."),
    ("legal", "I was served divorce papers at work today. What's the first thing I should do?"),
    ("legal", "Summarize this for me: 'Notice to {name}: you are required to appear in {city} County Court on {date} regarding case no. {inv}.'"),
    ("legal", "My neighbour {name} called the police on me for noise and now I have a warning on file."),
    ("legal", "{name} in sales was arrested for {charge} last weekend; HR wants a statement by {day}."),
    ("legal", "I signed an NDA with {company} and now they're threatening to sue me for ${amount}. Can they?"),
    ("legal", "Draft a character reference for my brother {first} for his sentencing hearing on {date}."),
    ("legal", "Will my {charge} conviction from {year} show up on the background check for the {job} job?"),
    ("legal", "My ex-husband hasn't paid child support in {n} months; how do I take him to court in {city}?"),
    ("hr", "Hey {first}, confidentially: {name} is being let go on {day}, please don't mention it in standup."),
    ("hr", "my manager rated me 'below expectations' again and i think it's because i took {leave} leave"),
    ("hr", "Turn these notes into a formal review: {name} - missed {k} deadlines, conflicts with {first}, rating 2/5."),
    ("hr", "Here's my CV, tailor it for the {job} role at {company}: {name}, {adult_age}, {n} years as a {job}, laid off in {month}."),
    ("hr", "Translate for the consulate: I, {name}, have been employed by {company} as a {job} since {year}."),
    ("hr", "I'm burned out and thinking of quitting without notice. My boss {first} doesn't know yet."),
    ("hr", "{first}'s work permit was refused; {he} has to leave {country} by {date}."),
    ("hr", "Reminder: {name} returns from {leave} leave on {date}, set up a phased return meeting."),
    ("hr", "I didn't get the promotion, {first2} did. My manager said I'm 'not leadership material'. How do I respond?"),
    ("hr", "Exit interview notes for {name}: leaving because of the manager, salary ${amount}, would not return."),
    ("hr", "Can you write a reference for {first}? {He} was fired from {company} over attendance but is a good worker."),
    ("hr", "We're rejecting {name}'s application for the {job} job; draft the email."),
    ("hr", "I need a letter confirming my employment and salary for my visa application to {country}."),
    ("hr", "{first} asked for a raise and I have to tell {him} no; {his} last review was average."),
    ("hr", "Salary sheet leaked: {name} makes ${amount} and {first} makes ${amount2} in the same role. What do I do as their lead?"),
    ("hr", "sorry, wont make it today, HR has me in a disciplinary meeting at {time} 😬"),
    ("family", "my parents are getting divorced after {n}0 years and i'm the one who has to tell my little brother"),
    ("family", "{first} just told me she's pregnant and hasn't told her husband yet."),
    ("family", "Write a wedding speech for my sister {first}; mention that our dad passed away last year."),
    ("family", "We're in a custody dispute and my son {first} stays with me every other week."),
    ("family", "Help me write a text to my ex {first}: I can't take the kids this weekend."),
    ("family", "My husband and I are in couples therapy and he wants to tell his parents. I don't."),
    ("family", "{name}'s teenage son ran away from home last night; they asked the team to share the poster."),
    ("family", "My daughter is {age} and just told us she's gay. My husband isn't taking it well."),
    ("family", "Our foster child {first} starts at {school} on {date}; what should I tell the teacher about {his} background?"),
    ("family", "I found out at {adult_age} that I was adopted. I want to find my birth mother in {city}."),
    ("family", "{first} and {his} wife lost the baby last week; what should the team send?"),
    ("family", "Long story short: my brother-in-law {first} hit my sister and she's staying with us now."),
    ("family", "My {relative} cut me out of the will and the rest of the family took {his} side."),
    ("family", "Birthday reminder: {first} turns {adult_age} on {date}, she's my daughter from my first marriage and lives with her mum."),
    ("family", "Is it weird that I'm dating my coworker {first}? We haven't told anyone on the team."),
    ("family", "{first} is going through a nasty divorce, please go easy on {him} this sprint."),
    ("whereabouts", "{first}'s flat is {address}, buzzer {k}, {he}'s home after {time}"),
    ("whereabouts", "I'm at the {hotel}, room {inv}, till {date}, come by whenever"),
    ("whereabouts", "Put in the shared calendar: {name} away {date} to {date2}, at {his} parents' house in {city}."),
    ("whereabouts", "hey can u send a courier to my place ({address}) before {time}? 🙏"),
    ("whereabouts", "{name} is staying at a women's shelter in {city} for now; don't give anyone the address."),
    ("whereabouts", "Draft a note to the neighbours: we'll be in {city} from {date} to {date2}, please keep an eye on our house at {address}."),
    ("whereabouts", "I'm walking home alone from {street} now, can you check on me every 10 minutes?"),
    ("whereabouts", "{first} moved back in with {his} parents on {street} after the breakup."),
    ("whereabouts", "Tell {first} I'm in the lobby of the {hotel} in {city} and leaving at {time}."),
    ("whereabouts", "Every {day} night {name} is alone at the shop on {street} until closing."),
    ("whereabouts", "Track my {relative}'s flight {flight}, {he}'s coming to stay with us at {address} for {n} weeks."),
    ("whereabouts", "Where can I park near {first}'s house at {address}? We're visiting on {day}."),
    ("identity", "my wifi password is {first}{year}! write it on the welcome card for the guests"),
    ("identity", "Here's the login for my bank: user {first}.{year}, password Sunflower{k}{p}! Save it somewhere safe for me."),
    ("identity", "Fill in this form for me: Name: {name}; Date of birth: {date}, {year}; Address: {address}."),
    ("identity", "I'm the account owner ({name}, signed up in {year}); {platform} locked me out after I changed phones. Write the appeal."),
    ("identity", "my social security number was in the email i sent to {company} by mistake, how bad is this"),
    ("identity", "Please translate my birth certificate: {name}, born {date}, {year} in {city}, father {first}."),
    ("identity", "The 2FA backup codes for my {platform} account are {inv}-{inv} and {inv}-{inv}. Where should I keep them?"),
    ("identity", "Dear {platform} Support, my account (registered to {name}) was disabled for 'suspicious activity'. I have done nothing wrong and I need it for work."),
    ("identity", "my personal api key is sk-{inv}{inv}{last4}, paste it into my .env please"),
    ("identity", "I changed my legal name to {name} last year; which accounts do I have to update?"),
    ("identity", "My passport no. is E{inv}{last4} and it expires on {date}; can I still travel to {country} on it?"),
    ("identity", "I'm {adult_age}, trans, and my ID still shows my old name. Help me write to the DMV."),
    ("correspondence", "Forward this to {first}: 'Hi {name}, your payment of ${amount} for invoice {inv} bounced, please resend by {date}.'"),
    ("correspondence", "Draft a reply to {name} at {company}: we accept ${amount} for the contract, but payment must be net 30."),
    ("correspondence", "Summarise my thread with {name}: they owe us ${amount}, promised to pay by {date}, then went silent."),
    ("correspondence", "Write to {first}: I saw your ${amount2} expense claim for the {city} dinner, but the receipts are missing."),
    ("correspondence", "Email {name}: we are ending the agreement with {company} on {date} because of the unpaid ${amount}."),
    ("family", "Also, not sure if I mentioned it, {first} and I are expecting in {month}. Anyway, can you review the sprint plan?"),
    ("hr", "Great demo today! Separately, {name} told me {he} is resigning at the end of {month}; keep that quiet for now."),
    ("health", "The release slipped a week. Part of it is that {first} has been off with {condition} since {date}."),
    ("family", "{first}'s wife left {him} last month and {he} has the kids full time now."),
    ("family", "my mom remarried last year and my stepdad {first} and I don't get along at all"),
    ("family", "{name} is caring for {his} disabled brother at home and can only work mornings."),
    ("hr", "{name} got a 'meets expectations' and no bonus this cycle; {he} hasn't been told yet."),
    ("hr", "My probation ends on {date} and my manager still hasn't said whether I'm staying."),
    ("hr", "{first}'s visa ties {him} to {company}, so {he} can't switch jobs until {month}."),
    ("hr", "Agenda for my 1:1 with {first}: {his} missed targets, the complaint from {first2}, and {his} request for {leave} leave."),
    ("hr", "I applied for the internal {job} opening and got rejected; I don't want the team to find out."),
    ("hr", "Draft meeting minutes: we agreed to let {name} go at the end of {month}; severance is {n} weeks' pay."),
    ("family", "Can you reword this so it sounds less angry? 'Dad, I'm not coming to Christmas as long as {first} is there.'"),
    ("family", "Write a toast for my parents' {n}0th anniversary; they nearly split up when I was {age}, mention how they got through it."),
    ("family", "my bf {first} wants to meet my parents but they don't know i'm gay"),
    ("finance", "Split the {city} trip: I paid ${amount} for the flat, {first} paid ${amount2} for the car. My budget's tight this month."),
    ("finance", "Note: {first} still hasn't paid back the ${amount2} I lent {him} for {his} divorce lawyer."),
    ("legal", "{first} got a restraining order against {his} ex on {date}; if anyone asks for {him} at reception, call security."),
    ("whereabouts", "{name} is working from {his} {relative}'s place in {city} until {date}; the address is on request only."),
    ("whereabouts", "Heads up: I'll be at {first}'s at {address} all weekend if you need the keys."),
    ("health", "{first} is allergic to peanuts and carries an EpiPen; make sure the caterer for {day} knows."),
    ("health", "Weekly update: shipped the export feature. Also I'll be out {day} for chemo, {first2} covers."),
    ("identity", "For the insurance claim: policy holder {name}, born {date}, {year}, member number {inv}{last4}."),
    ("identity", "I can't log in to {platform}, they want an ID that matches my old name {name}. What should I send?"),
    ("correspondence", "Hi {first}, following up on our call: {company} will pay the outstanding ${amount} in two parts, the first on {date}."),
    ("health", "Rewrite this for my manager: 'I have {condition} and need to work from home on bad days.'"),
    ("legal", "I'm out on bail until my trial in {month}; can I still go to the offsite in {city}?"),
    ("finance", "select * from transactions where owner = '{name}' and amount > {amount2}; -- why did my account go negative on {date}?"),
    ("hr", "{first} cried in the meeting today after {his} review; I think {he}'s dealing with a lot at home."),
    ("family", "We just found out our son {first} has been skipping school for weeks."),
    ("health", "btw {first} had a seizure in the office kitchen yesterday, {he}'s ok but asked us not to make a fuss"),
    ("health", "Can you make a table for my meds? Morning: {drug}. Night: {drug}. I keep mixing them up since my {procedure}."),
    ("health", "Translate for the pharmacist in {city}: I am diabetic and I lost my insulin pen."),
    ("health", "{name} (room {k}0{k}) is on day {n} after {procedure}; pain controlled on {drug}. Draft the handover note."),
    ("health", "Not feeling great today tbh. my {condition} flared up and I barely slept."),
    ("health", "My teenage daughter is self-harming and I don't know who to talk to."),
    ("hr", "{first} is taking a career break for {his} mental health; {his} last day is {date}."),
    ("hr", "pls don't forward: {name} failed the background check and the offer is being withdrawn"),
    ("hr", "My manager keeps scheduling my reviews while I'm on {leave} leave. Is that allowed?"),
    ("hr", "Notes from the HR call: {first} wants to go down to four days a week to look after {his} {relative}."),
    ("hr", "{name} and {first} both applied for the team lead role; I'm going with {first}, draft the rejection for {name}."),
    ("hr", "I've been at {company} {n} years and just found out the new hire earns ${amount} more than me."),
    ("family", "{first}'s twins were born premature last night, both are in the NICU."),
    ("family", "we're getting a divorce but staying in the same house until the kids finish school"),
    ("family", "My father-in-law {first} has started drinking again and my wife won't talk about it."),
    ("family", "{first} is my half-sister; we only found out last year through a DNA test."),
    ("family", "Reminder to self: call mum on {day}, it's a year since dad died."),
    ("family", "{first} is secretly engaged to {first2} from the {city} office."),
    ("finance", "I've got £{amount} on three credit cards and I'm only paying the minimum. Where do I start?"),
    ("finance", "Reimbursement form: employee {name}, bank {bank}, account ending {last4}, amount ${amount2}."),
    ("finance", "my dad is co-signing my car loan because my credit is bad, what happens if I miss a payment"),
    ("finance", "{first} is paying off {his} parents' hospital bills, so {he} can't join the ski trip."),
    ("legal", "{first}'s son was caught with drugs at school and the police were called."),
    ("legal", "I got a letter saying my wages will be garnished for taxes I didn't pay two years ago."),
    ("legal", "Write an apology letter to the judge for missing my court date on {date}."),
    ("whereabouts", "{first} will be home alone all {day} while {his} parents are in {city}; can someone drop off dinner at {address}?"),
    ("whereabouts", "I'm staying at a friend's place on {street} until my ex calms down, don't tell anyone where I am."),
    ("whereabouts", "Note for the babysitter: we're at the {hotel} in {city} tonight, back by {time}; the kids' school is {school}."),
    ("identity", "here's my login for the payroll portal: {first}{k}{p} / Winter{year}, check my payslip for me"),
    ("identity", "Passport page: surname {name}, nationality {country}, date of birth {date}, {year}. Fill in the visa form with it."),
    ("identity", "{platform} banned me because they think I'm under 13. I'm {adult_age}; help me write to them with proof."),
    ("correspondence", "Reply to {first}: sorry the ${amount2} refund is late, our finance team paid it into the wrong account (ending {last4})."),
]

EN_MORE_NEGATIVE: list[str] = [
    "Which vitamin deficiency causes scurvy? (A) A (B) B12 (C) C (D) D",
    "A {adult_age}-year-old {sex} presents with fever, neck stiffness and photophobia. The CSF shows neutrophils. What is the most likely causative organism?",
    "A newborn has a continuous machine-like murmur. Which drug is used to close the lesion?",
    "A {adult_age}-year-old woman presents with fatigue, weight gain and cold intolerance. Which lab test is most appropriate?",
    "In a randomized trial, {n}0% of patients on {drug} improved versus {k}0% on placebo. What is the absolute risk reduction?",
    "Name three side effects of chemotherapy that nurses should monitor.",
    "explain like im 5 how vaccines work",
    "whats the difference between a cold and the flu",
    "A landowner conveys Blackacre 'to A for life, then to B.' What interest does B hold?",
    "Under the UCC, when does the risk of loss pass to the buyer in a shipment contract?",
    "A police officer stops a car for speeding and smells marijuana. May the officer search the trunk without a warrant?",
    "What is the difference between a divorce and an annulment in most jurisdictions?",
    "How does child custody usually work when the parents live in different states? Just a general overview.",
    "What are the elements of defamation?",
    "{first} bought {k} notebooks for ${p} each and a backpack for $3{k}. {He} paid with a $100 bill. How much change did {he} get?",
    "A bakery sells {n}0 muffins a day at ${k} each. How much does it take in over {k} days?",
    "{first}'s salary is ${amount2} a year. If {he} gets a {k}% raise, what is {his} new salary?",
    "A family budgets ${amount2} for a vacation. Flights cost a third and the hotel costs half of the rest. How much is left?",
    "Which of the following is a liability on a balance sheet? A. cash B. inventory C. accounts payable D. equipment",
    "How do credit card companies detect fraud?",
    "What's a good rule of thumb for the size of an emergency fund?",
    "What's a polite way to ask for a raise? Just general tips.",
    "How does the H-1B visa lottery work?",
    "Write a template for a leave request email with placeholders like [NAME] and [DATES].",
    "Draft a company policy on bereavement leave: {n} days paid, extendable with manager approval.",
    "Write a short story about a girl named {first} whose grandmother has {condition} and forgets her name.",
    "In my novel, {first} discovers {his} father's secret debts. Suggest a twist for chapter {k}.",
    "Write a poem about a divorce from the point of view of the family dog.",
    "Give me a plot for a detective story where the victim was last seen at the {hotel} in {city}.",
    "What are healthy ways for siblings to resolve conflicts? It's for a parenting newsletter.",
    "The Prime Minister of {country} will visit {city} next week for trade talks.",
    "{company} announced record profits this quarter and its shares rose {k}%.",
    "Summarise this headline: central bank raises interest rates to {k}.5% to fight inflation.",
    "The mayor of {city} opened the new hospital wing on {day}.",
    "Write a SQL query that finds the rows in the payments table where card_last4 is NULL.",
    "Create a Pydantic model for a Patient with the fields name, date_of_birth and diagnosis.",
    "Generate 10 rows of obviously fake test data for a users table (name, email, birthday).",
    "regex to mask credit card numbers except the last 4 digits?",
    "How do I hash passwords with bcrypt in Python?",
    "Explain the GDPR rules on storing health data.",
    "Our API returns 401 when the token expires; how should the client refresh it?",
    "write a function that validates the checksum of a Chinese ID card number",
    "The staging cluster is on life support, {first} is doing CPR on the database 😅",
    "This codebase has a serious case of technical debt; how do we pay it down?",
    "The memory leak is terminal, let's kill the pod and move on.",
    "{first}'s PR is quarantined until the flaky tests are fixed.",
    "{first} is at a customer workshop today, {first2} will run standup.",
    "lunch at {time}? the new ramen place on {street} 🍜",
    "Moving the retro to {day}; {first} has a clash with the planning meeting.",
    "congrats {first} on shipping the billing revamp 🎉",
    "can someone summarise the doc {first} shared about {topic}?",
    "How do I change a flat tyre?",
    "how do you write a condolence card? general tips pls",
    "What should I pack for a week in {city} in {month}?",
    "How much does a typical wedding in {country} cost?",
    "Translate 'the patient should rest for two weeks' into Japanese.",
    "Summarise this article: 'Obesity rates in {country} have risen by {k}% in a decade, a new study finds.'",
    "Physics: a car accelerates from rest at {k} m/s² for {n} seconds. How far does it travel?",
    "Which of the following best describes the function of the mitochondria?",
    "Who was the first emperor of the Roman Empire?",
    "In economics, what is the effect of a price ceiling set below the equilibrium price?",
    "A pharmacist has {n}0 tablets and dispenses {k} a day. How many days will they last?",
    "Which amendment abolished slavery in the United States?",
    "The company's new parental leave policy gives every employee {n} weeks of paid leave.",
    "Write a scene where two detectives argue about a suspect's alibi.",
    "What is the typical salary range for a {job} in {city}?",
    "How should a manager run a difficult performance conversation? General advice please.",
    "Give me a checklist for moving house.",
    "What's the best way to share passwords within a team? Any password manager you'd recommend?",
    "The build is bleeding memory again, someone put a tourniquet on the cache.",
    "Our patient-facing app needs a consent screen; write the copy for it.",
    "A novelist's new memoir about her family's migration topped the charts in {country} this week.",
    "Which of the following is NOT a function of the liver? A. bile production B. insulin secretion C. detoxification D. glycogen storage",
    "A 5-year-old boy has a barking cough and stridor. What is the most likely diagnosis?",
    "The mean of five numbers is {k}; four of them are 2, 4, 6 and 8. What is the fifth?",
    "In Marbury v. Madison, what did the Supreme Court establish?",
    "{first} runs a lemonade stand and sells {n} cups at $1.{k}0 each. What are {his} total sales?",
    "What is the boiling point of water at the top of Mount Everest?",
    "Which of the following would shift the aggregate demand curve to the right?",
    "Write a bedtime story about a brave little nurse who helps sick animals.",
    "Write a breakup song in the style of a 90s pop ballad.",
    "Explain how the custody battle drives the plot of Kramer vs. Kramer.",
    "The health minister of {country} announced a new vaccination campaign.",
    "{company} is recalling {n}0,000 cars because of a brake defect.",
    "Write a Python function that calculates BMI from height and weight.",
    "How do I anonymise a CSV of patient records before sharing it?",
    "Is it safe to store API keys in environment variables?",
    "kill -9 the zombie process, it's haunting the build box 👻",
    "Who's bringing snacks for {day}'s demo? {first} did last time.",
]

ZH_MORE: list[tuple[str, str]] = [
    ("health", "我妈上周查出{condition}，医生开了{drug}，她血压一直降不下来怎么办"),
    ("health", "帮我把这段翻译成英文发给主治医生：我父亲{name}，{adult_age}岁，{date}入院，诊断{condition}。"),
    ("health", "{first}今天没来是因为去医院做{procedure}了，别在群里说哈"),
    ("health", "我抑郁症复发了，这周的周会能不能帮我请个假"),
    ("health", "体检报告出来了，我甲状腺有结节，4a类，要不要穿刺？"),
    ("health", "老婆怀二胎{n}个月了，产检说血糖偏高，饮食上要注意啥"),
    ("health", "帮我记一下：{date}血压1{k}0/9{k}，吃了{drug}"),
    ("health", "同事{name}确诊了{condition}，部门想凑钱帮{he}，倡议书怎么写才不伤人"),
    ("health", "我儿子{age}岁，被诊断为自闭症谱系，要不要跟学校说"),
    ("health", "{first}跟我说{he}一直靠安眠药才能睡着，还不让我告诉别人"),
    ("health", "把这条病历摘要整理一下：姓名{name}，性别{sex_zh}，年龄{adult_age}，主诉{symptom}，诊断{condition}。"),
    ("health", "我最近掉头发掉得厉害，还{symptom}，是不是压力太大了😭"),
    ("health", "爷爷中风住院了，我下周要回{city}陪护"),
    ("health", "领导，我下午要去医院复查{condition}，请半天假。"),
    ("health", "我有乙肝小三阳，入职体检会查出来吗"),
    ("health", "{name}做完{procedure}还在ICU，家属让我们先别去探望"),
    ("finance", "我这个月工资到手{amount2}，房贷要还{amount}，信用卡还欠着，怎么分配"),
    ("finance", "{bank}尾号{last4}的卡昨天被扣了{amount2}元，我没消费过，怎么申诉"),
    ("finance", "我跟{first}一起去{city}玩{n}天，预算{amount}元，帮我排个行程"),
    ("finance", "我网贷逾期三个月了，催收天天打电话给我爸妈，怎么办"),
    ("finance", "{first}又找我借{amount2}块钱说下个月还，去年借的还没还，我怎么拒绝"),
    ("finance", "帮我算算：我年薪{amount}，公积金比例12%，每月到手大概多少"),
    ("finance", "老公偷偷给他弟转了{amount}元，我们家的存款就这么多"),
    ("finance", "{name}的工资条发错群了，税前{amount}，大家都看到了怎么办"),
    ("finance", "我想把{bank}的定期{amount}元取出来还花呗，划算吗"),
    ("finance", "离婚后房贷还剩{n}0万，前夫不肯还，我该怎么办"),
    ("finance", "帮我整理这个月的账单：房租{amount2}，车贷3{k}00，孩子补习班{k}000"),
    ("finance", "我婚礼预算就{amount}块，在{city}办酒席能办成什么样"),
    ("finance", "我爸炒股亏了{amount}，现在不敢告诉我妈"),
    ("legal", "我弟弟因为酒驾被拘留了，家属能去看守所看他吗"),
    ("legal", "{name}被前公司起诉了，说{he}泄露商业机密，索赔{amount}元"),
    ("legal", "我被人骗了{amount2}块钱，已经报警了，立案回执在我这，下一步呢"),
    ("legal", "房东{name}不退押金，我准备去法院起诉，起诉状怎么写"),
    ("legal", "{first}因为打架被行政拘留十天，单位知道了会开除吗"),
    ("legal", "帮我写一份答辩状，原告{name}说我欠他{amount}元，其实已经还了"),
    ("legal", "我老公酒驾被抓了，{date}开庭，要请律师吗"),
    ("legal", "前妻不让我见孩子，我想申请变更抚养权"),
    ("legal", "我在{city}被人追尾了，对方全责但不肯赔，能起诉吗"),
    ("hr", "帮我给{first}写个邮件，说我{date}开始休{leave}，大概{n}天"),
    ("hr", "我绩效又是C，主管{name}说再这样就要劝退了"),
    ("hr", "{name}下周一就要被裁了，名单还没公布，你先别说"),
    ("hr", "我在偷偷面{company}，二面是{day}下午，怎么跟领导请假不露馅"),
    ("hr", "帮我改一下简历：{name}，{adult_age}岁，{n}年{job}经验，去年{month}被裁。"),
    ("hr", "我的工作签证{month}到期，公司HR一直拖着不办续签"),
    ("hr", "{first}的转正答辩没过，明天要跟{him}谈，怎么开口"),
    ("hr", "把这段话整理成正式的警告信：员工{name}，本月旷工{k}次。"),
    ("hr", "我要离职了，还没跟{first}说，交接文档你帮我列一下"),
    ("hr", "HR问我为什么上家只干了{n}个月，其实是因为被霸凌，我该怎么说"),
    ("hr", "{first}怀孕了还没公开，想下个月开始休产假，排班怎么调"),
    ("hr", "年终奖我只拿了{amount2}，同组的{first}拿了{amount}，要不要去问"),
    ("hr", "帮我写封推荐信，{name}在我们组做了{n}年{job}，离职是因为家里有事"),
    ("hr", "我被降薪了{k}0%，合同上没写，这合法吗？我该怎么跟公司谈"),
    ("family", "我跟老公冷战一周了，他昨天晚上没回家"),
    ("family", "我爸妈要离婚，让我选跟谁，我都{adult_age}了还是很难受"),
    ("family", "{first}和{his}老婆在闹离婚，这周别给{him}排太多活"),
    ("family", "婆婆天天催生，其实我们一直怀不上，不知道怎么跟她说"),
    ("family", "我女儿{first}在{school}被同学孤立了，要不要找老师"),
    ("family", "我发现男朋友手机里有别人的暧昧聊天记录，该不该问他"),
    ("family", "我是被领养的，最近想去{city}找亲生父母"),
    ("family", "帮我写一段话发给前任{first}，孩子这周末我接不了"),
    ("family", "{first}的爸爸上周去世了，群里发个慰问怎么说合适"),
    ("family", "我和{first}在谈恋爱，还没公开，公司团建要一起去吗"),
    ("family", "我弟弟跟家里出柜了，我爸气得住院了"),
    ("family", "我哥欠了一屁股债，爸妈拿养老钱帮他还"),
    ("family", "我跟{first}分手了，{he}还住在我家，怎么让{he}搬走"),
    ("whereabouts", "{first}家住{address}，{he}晚上{time}以后在家，快递寄这里"),
    ("whereabouts", "我{day}到{date2}在{city}出差，住{hotel}，有事打我电话"),
    ("whereabouts", "{name}现在一个人住在{address}，{his}前夫一直在找{him}，千万别透露"),
    ("whereabouts", "我爸妈{date}来{city}看我，住我家{address}，帮我规划一下两天行程"),
    ("whereabouts", "我每天早上{time}送孩子去{school}，然后去{street}上班"),
    ("whereabouts", "帮我发个消息给{first}：我坐{flight}航班，{time}落地{city}，来接我一下"),
    ("whereabouts", "{first}这周住在{city}的{hotel}，房间号{inv}"),
    ("whereabouts", "我们全家{date}到{date2}去{city}，家里没人，帮我写个请邻居照看的条子"),
    ("whereabouts", "我现在一个人走在{street}，天黑了有点怕，陪我聊会儿"),
    ("whereabouts", "{name}搬去{city}了，新地址是{address}"),
    ("identity", "我的微信号被封了，说我违规，其实都是我本人操作的，帮我写个申诉"),
    ("identity", "帮我填这个表：姓名{name}，出生日期{year}年{date}，户籍{city}，现住{address}"),
    ("identity", "家里wifi密码是{first}{year}，写在欢迎卡上给客人"),
    ("identity", "我的{platform}账号被盗了，绑定的手机号也被改了，怎么找回"),
    ("identity", "我网银的登录密码是Sun{year}!{k}，帮我记在备忘录里"),
    ("identity", "我改名了，新名字叫{name}，身份证、银行卡都要改吗"),
    ("identity", "我护照号E{inv}{last4}，{date}到期，还能去{city}吗"),
    ("identity", "我的{platform}账号被冻结了，里面还有{amount2}元余额，是我本人实名的，怎么解封"),
    ("identity", "我是{name}，{year}年出生，之前在{bank}开过户，现在想注销账户"),
    ("correspondence", "帮我回{name}的邮件：{month}的发票{amount}元我们已经付了，请查收。"),
    ("correspondence", "给{company}的{name}写封邮件，提醒{him}合同尾款{amount}元已经逾期{n}周了"),
    ("correspondence", "总结一下{first}发来的邮件：{company}的{amount}元货款要下个月才能付"),
    ("correspondence", "转告{first}：{name}又打电话来催那笔{amount2}元的报销了"),
    ("family", "说个事，我跟{first}下个月领证，先别声张哈。另外周报我晚点交"),
    ("hr", "今天评审挺顺利的。对了，{name}月底就走了，还没官宣"),
    ("health", "版本延期一周，主要是{first}因为{condition}住院了，{his}的活{first2}先接着"),
    ("family", "{first}老婆上个月带着孩子回娘家了，{he}现在一个人住"),
    ("family", "我妈再婚了，我跟继父一直处不来"),
    ("hr", "{name}这次绩效打了3.25，没有年终奖，还没通知{him}"),
    ("hr", "我试用期{date}到期，领导到现在都没说留不留我"),
    ("hr", "我1对1要跟{first}谈三件事：业绩没达标、{first2}投诉{him}、{his}想请{leave}"),
    ("hr", "会议纪要：决定{month}底和{name}解除劳动合同，补偿N+1"),
    ("family", "我男朋友想见我爸妈，可是他们还不知道我喜欢男生"),
    ("finance", "{first}找我借钱请离婚律师，借了{amount2}到现在没还"),
    ("legal", "{first}申请了人身安全保护令，要是有人来前台找{him}，直接叫保安"),
    ("legal", "我还在取保候审，{month}开庭，能去{city}参加团建吗"),
    ("health", "{first}花生过敏，{day}的团建餐记得跟餐厅说"),
    ("health", "周报：导出功能上线了。另外我{day}要去做化疗，请{first2}帮我顶一下"),
    ("health", "帮我改得委婉一点发给领导：我有{condition}，发作的时候需要在家办公"),
    ("identity", "理赔材料：被保险人{name}，出生日期{year}年{date}，保单号{inv}{last4}"),
    ("whereabouts", "这周末我都在{first}家（{address}），要钥匙来这找我"),
    ("whereabouts", "{name}这段时间在{city}的父母家办公，地址别外传"),
    ("family", "刚发现儿子{first}逃学好几周了，老师一直没跟我们说"),
    ("hr", "{first}评审完在会议室哭了，感觉{he}家里最近事情很多"),
    ("finance", "查一下：select * from 流水 where 户名='{name}' and 金额>{amount2}，我{date}的账怎么变负数了"),
    ("correspondence", "{first}你好，电话里说的事确认一下：{company}欠的{amount}元分两期付，第一期{date}到账"),
    ("health", "我老婆产后抑郁，我想请两周假在家陪她"),
    ("finance", "我们{n}个人AA去{city}，我先垫了{amount}，这个月手头很紧"),
    ("family", "姐妹们我跟你们说，{first}离婚了，孩子判给男方了"),
    ("health", "唉，最近睡不好，医生给我开了{drug}，吃了白天昏昏沉沉的"),
    ("health", "@{first} 你上次说你爸住院的事怎么样了，需要帮忙说一声"),
    ("hr", "偷偷告诉你，{name}其实是被劝退的，不是主动离职"),
    ("health", "帮我翻译成英文：本人{name}，因患{condition}，需长期服用{drug}，特此证明。"),
    ("finance", "表格帮我填一下：姓名 {name}，婚姻状况 离异，子女 2个，月收入 {amount2}元"),
    ("health", "我的体检结果：尿酸偏高，血压1{k}0，医生让我三个月后复查"),
    ("health", "{first}最近老请假，听说是在做试管"),
    ("finance", "我老婆把我工资卡收走了，每月只给我{k}00零花钱😂 月光怎么破"),
    ("finance", "别跟别人说啊，我其实有{amount}的网贷没还完"),
    ("health", "{first}的孩子查出来白血病，我们组打算捐点钱"),
    ("legal", "我爸酒驾撞了人，对方要{amount}私了，我们该不该给"),
    ("hr", "我要去{city}面试，别让领导知道，{day}请假的理由帮我想一个"),
    ("hr", "{name}离职的真正原因是跟领导闹翻了，还被扣了奖金"),
    ("finance", "我们家情况：老公失业半年了，就靠我一个人的工资{amount2}养全家"),
    ("family", "{first}跟{first2}在一起了，办公室恋情，大家都装不知道"),
    ("family", "我跟我妈已经半年没说话了，因为她不同意我的婚事"),
    ("hr", "帮我总结一下这封邮件：{name}申请{n}个月无薪假，原因是照顾生病的母亲"),
    ("health", "备忘：{date}下午带女儿去儿童医院看心理科"),
    ("whereabouts", "我下周一到周三在{city}，住在我表姐家，在{street}那边"),
    ("whereabouts", "快递填这个：{name}，{address}，电话我等下发你"),
    ("identity", "我{platform}的支付密码是{last4}{k}{k}，你帮我记着，我老忘"),
    ("identity", "签证被拒了，理由是我有过逾期滞留记录，这次再申请怎么写说明"),
    ("health", "{first}被查出来是乙肝携带者，公司要不要让{him}调岗？"),
    ("whereabouts", "我前男友一直在{street}我家楼下堵我，怎么办"),
    ("finance", "房租{amount2}一个月，我工资才{amount}，下个月交不起了"),
    ("correspondence", "给{first}发个消息：你要的{amount}我{date}前还你，最近真的周转不开"),
    ("hr", "把这段话改得专业点发给HR：我因怀孕需要调整工作时间，预产期{month}"),
]

ZH_MORE_NEGATIVE: list[str] = [
    "胃溃疡的好发部位是（ ）A.胃大弯 B.胃小弯 C.胃底 D.贲门",
    "某商店将进价{p}元的商品按{k}0%的利润定价，售价是多少元？",
    "小红带了{amount2}元去文具店，买了{k}支笔，每支{p}元，应找回多少钱？",
    "{first}的工资每年涨{k}%，三年后是原来的多少倍？（保留两位小数）",
    "下列关于高血压治疗原则的说法，错误的是（ ）",
    "糖尿病患者的饮食一般要注意什么？",
    "布洛芬和对乙酰氨基酚有什么区别？",
    "患者，{sex_zh}，{adult_age}岁，突发剧烈头痛伴呕吐，首选检查是（ ）A.头颅CT B.腰穿 C.脑电图 D.MRI",
    "护士资格考试：静脉输液时发现穿刺部位肿胀，首先应（ ）",
    "甲盗窃乙的手机后被乙追赶，甲为抗拒抓捕将乙打伤，甲的行为构成（ ）",
    "离婚时夫妻共同财产一般怎么分割？讲一下法律规定",
    "劳动合同到期不续签，公司要给补偿吗？一般规定是什么",
    "什么情况下可以申请劳动仲裁？",
    "下列各项中，应计入管理费用的是（ ）",
    "信用卡最低还款额是怎么计算的？",
    "个税专项附加扣除有哪些项目？",
    "写一篇关于奶奶的作文，600字，要感人",
    "写个小说开头：{first}在医院醒来，发现自己失忆了",
    "帮我编个故事，主角{first}欠了高利贷，最后靠开面馆翻身",
    "从《红楼梦》里林黛玉的病谈谈古代的肺结核",
    "新闻：{city}市长今天出席了新医院的落成仪式",
    "{company}发布财报，净利润同比增长{k}%",
    "央行宣布下调存款准备金率0.5个百分点",
    "写一个SQL，查询订单表里金额大于1000的用户",
    "用Python实现身份证号校验位的计算",
    "怎么用正则把手机号中间四位替换成星号？",
    "数据库里的用户密码应该怎么存？加盐哈希怎么做",
    "帮我设计一张患者信息表，字段要有姓名、性别、诊断",
    "生成10条假的测试数据：姓名、手机号、地址",
    "这个服务已经病入膏肓了，重构吧",
    "线上又挂了，急诊一下，{first}先看看日志",
    "技术债欠太多了，这个季度要还一部分",
    "{first}今天外出见客户，站会{first2}主持",
    "中午一起吃火锅？{street}新开了一家🍲",
    "{day}的复盘会改到{time}，大家看一下日程",
    "恭喜{first}的功能上线了🎉",
    "去{city}旅游一般要准备多少预算？",
    "{city}{month}适合穿什么衣服？",
    "请假条的一般格式是什么？",
    "怎么写辞职信？给个通用模板，名字用[姓名]代替",
    "孩子叛逆期家长应该怎么沟通？说一般的建议就行",
    "把“患者应卧床休息两周”翻译成英文",
    "下列哪种维生素缺乏会导致夜盲症？",
    "某人存款{amount2}元，年利率3%，按复利计算5年后本息和是多少？",
    "解释一下什么是遗嘱继承和法定继承",
    "医保报销比例一般是多少？",
    "写一首关于父亲的诗",
    "物理：一辆汽车从静止开始以{k}m/s²的加速度运动{n}秒，位移是多少？",
    "秦始皇统一六国是在哪一年？",
    "经济学：政府设定低于均衡价格的最高限价会导致什么？",
    "药房有{n}0片药，每天发{k}片，能发几天？",
    "公司新的育儿假政策：每位员工可享受{n}天带薪假",
    "写一段两个警察争论嫌疑人不在场证明的对话",
    "{city}的{job}一般工资多少？",
    "管理者怎么和下属做绩效面谈？说点通用方法",
    "搬家前要准备哪些东西？列个清单",
    "团队的共享密码应该怎么管理？推荐个密码管理器",
    "下列词语中，加点字的读音全都正确的一项是（ ）",
    "缓存又在疯狂吃内存，先给它止个血",
    "帮我写一段App隐私授权弹窗的文案",
    "下列哪项不是肝脏的功能？A.分泌胆汁 B.分泌胰岛素 C.解毒 D.储存糖原",
    "患儿，5岁，犬吠样咳嗽伴吸气性喉鸣，最可能的诊断是（ ）",
    "五个数的平均数是{k}，其中四个数是2、4、6、8，第五个数是多少？",
    "下列关于戊戌变法的表述，正确的是（ ）",
    "{first}摆摊卖柠檬水，每杯{k}元，卖了{n}杯，一共收入多少元？",
    "珠穆朗玛峰顶上水的沸点大约是多少度？",
    "写一个睡前故事：小护士帮森林里生病的小动物看病",
    "写一首失恋的歌词，要有90年代的感觉",
    "新闻：国家卫健委发布新的疫苗接种指南",
    "{company}召回{n}万辆汽车，原因是刹车存在缺陷",
    "用Python写个函数，根据身高体重计算BMI",
    "分享之前怎么对患者数据做脱敏处理？",
    "API密钥放在环境变量里安全吗？",
    "这个僵尸进程杀不掉，服务器闹鬼了👻",
    "{day}演示谁带零食？上次是{first}",
]


def _framed(slots: Slots, rng: random.Random, lang: str, fact: str) -> str:
    """A fact as the assistant would see it recalled: a memory line, a profile or a transcript line."""
    who = slots.en_first() if lang == "en" else slots.zh_first()
    body = slots.fill(fact.replace("{who}", rng.choice(EN_WHO[1:] if lang == "en" else ZH_WHO[1:])), lang)
    day = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    frames = [
        f"<memory>\n- [journal, {rng.choice(['private', 'group', 'team'])}, {day}, from {who}] {who}: {body}\n</memory>",
        f"<memory>\nProfile of {who}: name: {who}; language: {lang}\n</memory>\n\n[Mon {day} 09:{rng.randint(10, 59)} UTC] {who}: {body}",
        f"<group-transcript>\n{who}: {body}\nassistant: {slots.fill(rng.choice(EN_ASKS if lang == 'en' else ZH_ASKS), lang)}\n</group-transcript>",
        f"- [note, {rng.choice(['private', 'group'])}, {day}, from {who}] {body}",
    ]
    return rng.choice(frames)


def _compose(slots: Slots, rng: random.Random, lang: str, fact: str) -> str:
    who_list, asks, frames = (EN_WHO, EN_ASKS, EN_FRAMES) if lang == "en" else (ZH_WHO, ZH_ASKS, ZH_FRAMES)
    who = rng.choice(who_list)
    text = fact.replace("{who}", who)
    if lang == "en" and who == "I":
        text = (text.replace("I was", "I was").replace("I has", "I have").replace("I is", "I am")
                .replace("I keeps", "I keep").replace("I goes", "I go").replace("I owes", "I owe")
                .replace("I earns", "I earn").replace("I saw", "I saw").replace("I lost", "I lost")
                .replace("I got", "I got").replace("I walks", "I walk").replace("I lives", "I live")
                .replace("I holds", "I hold").replace("I sent", "I sent").replace("I emailed", "I emailed")
                .replace("{his}", "my").replace("{he}", "I").replace("told I", "told me").replace("sent I", "sent me")
                .replace("that I uses", "that I use").replace("I wants", "I want").replace("I thinks", "I think")
                .replace("I likes", "I like").replace("I prefers", "I prefer").replace("I wrote", "I wrote")
                .replace("I suggested", "I suggested").replace("I recommended", "I recommended")
                .replace("I is", "I am").replace("I has", "I have"))
    filled = slots.fill(text, lang)
    ask = slots.fill(rng.choice(asks), lang)
    frame = rng.choice(frames)
    return frame.format(fact=filled, Fact=filled[:1].upper() + filled[1:], ask=ask,
                        ask_lower=ask[:1].lower() + ask[1:])


def _composed_negative(slots: Slots, rng: random.Random, lang: str, frame: str) -> str:
    things = EN_NEG_THINGS if lang == "en" else ZH_NEG_THINGS
    return slots.fill(frame.replace("{thing}", rng.choice(things)), lang)


_PREFIX_EN = ["", "", "", "Hi, ", "Quick question: ", "Hey assistant, ", "Please help. ", "Hello! ", "Ok so ",
              "Need help: ", "Sorry to bother you, "]
_SUFFIX_EN = ["", "", "", " Thanks!", " Thank you.", " Keep it short.", " Asap please.", " :)", " Any ideas?"]
_PREFIX_ZH = ["", "", "", "你好，", "请问", "帮个忙，", "在吗？", "问一下，", "麻烦你，", "急！"]
_SUFFIX_ZH = ["", "", "", "谢谢！", "多谢", "简短一点", "尽快", "有什么建议吗？", "～"]


def _template_id(lang: str, kind: str, template: str) -> str:
    return hashlib.sha1(f"{lang}|{kind}|{template}".encode()).hexdigest()[:10]


def _split(template_id: str) -> str:
    """A template's part, drawn from its id and the seed: adding templates never moves the others."""
    draw = int(hashlib.sha1(f"{SEED}|{template_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "held" if draw < HELD_APART_SHARE else "tune"


def build() -> list[dict[str, object]]:
    from faker import Faker

    rng = random.Random(SEED)
    fakers: dict[str, object] = {}
    for i, locale in enumerate(("en_US", "en_GB", "zh_CN")):
        fake = Faker(locale)
        fake.seed_instance(SEED + i)
        fakers[locale] = fake
    slots = Slots(rng, fakers)
    groups: list[tuple[str, str, str, bool]] = [
        *(("en", kind, t, True) for kind, t in EN), *(("en", "none", t, False) for t in EN_NEGATIVE),
        *(("zh", kind, t, True) for kind, t in ZH), *(("zh", "none", t, False) for t in ZH_NEGATIVE),
    ]
    rows: list[dict[str, object]] = []
    composed: list[tuple[str, str, str, bool, Callable[[], str]]] = []
    for lang, facts in (("en", EN_FACTS), ("zh", ZH_FACTS)):
        for kind, fact in facts:
            composed.append((lang, kind, fact, True, partial(_compose, slots, rng, lang, fact)))
    for lang, plain in (("en", EN_PLAIN_FACTS), ("zh", ZH_PLAIN_FACTS)):
        for fact in plain:
            composed.append((lang, "none", fact, False, partial(_compose, slots, rng, lang, fact)))
    for lang, frames in (("en", [*EN_NEG_FRAMES, *EN_NEG_WORK, *EN_VIGNETTES, *EN_TECH, *EN_CHAT, *EN_DOCS, *EN_PERSONAS]),
                         ("zh", [*ZH_NEG_FRAMES, *ZH_NEG_WORK, *ZH_VIGNETTES, *ZH_TECH, *ZH_DOCS, *ZH_PERSONAS])):
        for frame in frames:
            composed.append((lang, "none", frame, False,
                             partial(_composed_negative, slots, rng, lang, frame)))
    for lang, facts, plain in (("en", EN_FACTS, EN_PLAIN_FACTS), ("zh", ZH_FACTS, ZH_PLAIN_FACTS)):
        # Framed variants are their own templates, one per fact, so the split keeps them apart too.
        for kind, fact in facts[::3]:
            composed.append((lang, kind, "framed|" + fact, True, partial(_framed, slots, rng, lang, fact)))
        for fact in plain[::2]:
            composed.append((lang, "none", "framed|" + fact, False, partial(_framed, slots, rng, lang, fact)))
    for lang, artefacts in (("en", EN_WORK_ARTEFACTS), ("zh", ZH_WORK_ARTEFACTS)):
        for artefact in artefacts:
            composed.append((lang, "none", artefact, False, partial(_work, slots, rng, lang, artefact)))
    for lang, notes in (("en", EN_WORK_NOTES), ("zh", ZH_WORK_NOTES)):
        for note in notes:
            composed.append((lang, "none", note, False, partial(_composed_negative, slots, rng, lang, note)))
    for lang, kind, template, private, make in composed:
        tid = _template_id(lang, kind, template)
        split = _split(tid)
        count = COMPOSED_PER_FACT if private else COMPOSED_PER_FRAME
        seen: set[str] = set()
        for _ in range(count * 3):
            if len(seen) == count:
                break
            text = make()
            if text in seen:
                continue
            seen.add(text)
            rows.append({"text": text, "private": private, "lang": lang, "kind": kind, "split": split,
                         "template": tid, "source": "composed"})
    rows.extend(_template_rows(slots, rng, groups))
    rng.shuffle(rows)
    # The later templates draw from a stream of their own and are numbered after the rows above, so adding them
    # left every earlier row, its text and its id as they were.
    more_rng = random.Random(SEED + 1)
    more = _template_rows(Slots(more_rng, fakers), more_rng, [
        *(("en", kind, t, True) for kind, t in EN_MORE), *(("en", "none", t, False) for t in EN_MORE_NEGATIVE),
        *(("zh", kind, t, True) for kind, t in ZH_MORE), *(("zh", "none", t, False) for t in ZH_MORE_NEGATIVE),
    ])
    more_rng.shuffle(more)
    rows.extend(more)
    for i, row in enumerate(rows):
        row["id"] = f"p{i:04d}"
    return rows


def _template_rows(slots: Slots, rng: random.Random,
                   groups: list[tuple[str, str, str, bool]]) -> list[dict[str, object]]:
    """Rows from whole-prompt templates, each wrapped in a greeting and a sign-off unless it spans lines."""
    rows: list[dict[str, object]] = []
    for lang, kind, template, private in groups:
        tid = _template_id(lang, kind, template)
        split = _split(tid)
        # About 2 private to 1 not: negatives get fewer rows per template, since there are fewer ways to vary them.
        count = ROWS_PER_TEMPLATE if private else ROWS_PER_TEMPLATE - 1
        seen: set[str] = set()
        for _ in range(count * 3):
            if len(seen) == count:
                break
            text = slots.fill(template, lang)
            wrap = "\n" not in template  # an e-mail or a form has its own greeting and sign-off
            if wrap and lang == "en":
                text = rng.choice(_PREFIX_EN) + text + rng.choice(_SUFFIX_EN)
                if rng.random() < 0.15:
                    text = text.lower()
            elif wrap:
                text = rng.choice(_PREFIX_ZH) + text + rng.choice(_SUFFIX_ZH)
            if text in seen:
                continue
            seen.add(text)
            rows.append({"text": text, "private": private, "lang": lang, "kind": kind, "split": split,
                         "template": tid, "source": "template"})
    return rows


def main() -> None:
    rows = build()
    with OUT.open("w", encoding="utf-8") as out:
        for row in rows:
            ordered = {k: row[k] for k in ("id", "text", "private", "lang", "kind", "split", "template", "source")}
            out.write(json.dumps(ordered, ensure_ascii=False) + "\n")
    private = sum(1 for r in rows if r["private"])
    held = sum(1 for r in rows if r["split"] == "held")
    print(f"{len(rows)} rows ({private} private, {len(rows) - private} not; {held} held apart) -> {OUT.name}")


if __name__ == "__main__":
    main()
