"""Detectors for personal data said in words: addresses, health, salary, dates of birth, confidential notes.

Keywords alone would flag "诊断一下这个 bug" or "our password policy"; each detector therefore pairs a keyword with
the context that makes it personal (a value, a person, a residence cue) and drops the technical collocations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from assistant.privacy.finding import Finding

__all__ = ["GATED_TOPIC_DETECTORS", "TOPIC_DETECTORS"]

_CJK = r"\u4e00-\u9fff"
_HAS_CJK = re.compile(rf"[{_CJK}]")

# --- addresses -------------------------------------------------------------------------------------------------
# The road-and-number core is found first; the road's name is then taken from the up to 10 characters before it.
_CN_STREET_CORE = re.compile(r"(?:路|街|大街|大道|道|巷|弄|胡同|里)\s*\d{1,5}(?:[\-之]\d{1,4})?\s*号(?!线)")
_CN_ROAD_NAME = re.compile(rf"[{_CJK}A-Za-z0-9]{{1,10}}$")
_CN_BUILDING = re.compile(
    r"(?=\d)(?:\d{1,4}\s*(?:号楼|栋|幢|座|号院|区)\s*(?:\d{1,2}\s*单元\s*)?\d{2,5}\s*(?:室|号|户)?"
    r"|\d{1,2}\s*单元\s*\d{2,5}\s*(?:室|号|户)?)"
)
_CN_COMPOUND = re.compile(rf"[{_CJK}]{{2,8}}(?:小区|花园|家园|新村|公寓|苑|村)\s*\d{{1,4}}\s*(?:号楼|栋|幢|号|期)")
_CN_HIERARCHY = re.compile(
    rf"[{_CJK}]{{2,7}}(?:省|自治区)[{_CJK}]{{2,7}}?(?:市|州|盟)[{_CJK}]{{2,7}}?(?:区|县|旗)"
)
_CN_RESIDENCE = re.compile(
    rf"(住在|住址|家住|家庭住址|居住地|现住址|户籍地址|收货地址|收件地址|邮寄地址|地址是|地址[:：]|寄到|搬到了?|"
    rf"我家在|我家住|我住)\s*([{_CJK}A-Za-z0-9\-#（）()]{{2,30}})"
)
_CN_PLACE_PART = re.compile(r"区|县|镇|乡|村|路|街|道|巷|弄|小区|苑|园|号|楼|栋|室|单元|公寓|胡同|大厦")
_NOT_A_HOME = re.compile(r"(服务器|ip|内存|网络|mac|邮箱|网址|链接|接口|api|url|ws|服务|仓库|镜像|代理|回调)\s*$",
                         re.IGNORECASE)
_EN_STREET = re.compile(
    r"(?<![0-9A-Za-z])\d{1,6}[A-Za-z]?\s+(?:[NSEW]\.?\s+)?(?:[A-Z][A-Za-z'.\-]*\s+){1,4}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|"
    r"Parkway|Pkwy|Highway|Hwy|Square|Sq|Circle|Cir)\.?(?![A-Za-z])"
    r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|#)\.?\s*[A-Za-z0-9\-]+)?"
)
_EN_UNIT = re.compile(r"(?<![A-Za-z])(?:Apt|Apartment|Suite|Unit)\.?\s*#?\s*\d+[A-Za-z]?(?![A-Za-z0-9])")
_EN_ROOM_BUILDING = re.compile(
    r"(?i)(?<![a-z])(?:room|rm\.?|flat|unit|apt\.?)\s*#?\d{2,5}[a-z]?,?\s+(?:building|bldg\.?|tower|block)\s*#?\w{1,4}"
    r"|(?<![a-z])(?:building|bldg\.?|tower|block)\s*#?\w{1,4},?\s+(?:room|rm\.?|flat|unit|apt\.?)\s*#?\d{2,5}"
)
_PO_BOX = re.compile(r"(?i)(?<![A-Za-z])P\.?\s?O\.?\s+Box\s+\d+")
_US_STATE_ZIP = re.compile(r",\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?(?!\d)")
_EN_RESIDENCE = re.compile(
    r"(?i)(?<![a-z])(?=[imhsd])(I live (?:at|on)|I'm living at|my (?:home |mailing |shipping |postal |"
    r"current )?address(?: is)?|"
    r"home address|ship (?:it |them |this )?to(?: me at)?|deliver (?:it |them )?to|mail (?:it |them )?to)"
    r"\s*:?\s*(\S[^\n]{3,60})"
)


def _addresses(text: str) -> Iterator[Finding]:
    for m in _CN_STREET_CORE.finditer(text):
        name = _CN_ROAD_NAME.search(text[max(0, m.start() - 10):m.start()])
        if name is not None:
            yield Finding("address", m.start() - len(name.group()), m.end(), 0.9)
    for pattern, confidence in ((_CN_BUILDING, 0.85), (_CN_COMPOUND, 0.9),
                                (_CN_HIERARCHY, 0.7), (_EN_STREET, 0.9), (_EN_UNIT, 0.7), (_EN_ROOM_BUILDING, 0.8),
                                (_PO_BOX, 0.9),
                                (_US_STATE_ZIP, 0.7)):
        for m in pattern.finditer(text):
            yield Finding("address", m.start(), m.end(), confidence)
    for m in _CN_RESIDENCE.finditer(text):
        place = m.group(2)
        if _CN_PLACE_PART.search(place) and not _NOT_A_HOME.search(text[max(0, m.start() - 6):m.start()]):
            yield Finding("address", m.start(2), m.end(2), 0.8)
    for m in _EN_RESIDENCE.finditer(text):
        place = m.group(2)
        if any(ch.isdigit() for ch in place) or re.search(r"[A-Z][a-z]+ (?:Street|St|Road|Rd|Ave|Avenue)", place):
            yield Finding("address", m.start(2), m.end(2), 0.8)


# --- health ----------------------------------------------------------------------------------------------------
# Two patterns, each behind a cheap gate (a CJK character; the start of a Latin word): a long alternation is
# otherwise tried at every position of the text, which made this the slowest detector by far.
_HEALTH_ZH = re.compile(
    rf"(?=[{_CJK}B])(?:"
    r"确诊|诊断(?:为|出|书|证明)|患有|患上|患了|得了[^\s，。,.]{0,6}(?:病|症|癌|炎)|抑郁症?|焦虑症|双相|精神分裂|"
    r"糖尿病|高血压|低血糖|心脏病|冠心病|癌症|肿瘤|[肺胃肝肠乳腺宫颈甲状腺]癌|白血病|艾滋|乙肝|肝炎|哮喘|"
    r"怀孕|怀上|孕[早中晚]期|孕周|产检|产假|流产|堕胎|不孕|试管婴儿|化疗|放疗|透析|病历|病假|病情|住院|出院|"
    r"复诊|处方|体检报告|体检结果|血压|血糖|胆固醇|心理咨询|心理医生|精神科|吃药|用药|服药|药物|布洛芬|"
    r"阿莫西林|胰岛素|抗抑郁|安眠药|医生说|看医生|看病|挂号|(?<!不)发烧|发高烧|(?<!不)(?<!不太)(?<!不怎么)感冒|"
    r"去医院|在医院|医院(?:看|检查|复查)|胃镜|肠镜|核磁|彩超|B超|抽血|验血|化验单|输液|挂水|拔牙|看牙|咳嗽|骨折|过敏|"
    r"新冠|(?<![太夕朝欧])阳了|核酸阳性|痛经|月经|例假|生理期|避孕|牙疼|头疼得|失眠|康复|理疗|(?<!刀)手术(?!刀)|"
    r"嗓子疼|喉咙痛|发炎|睡不着|血常规|做检查|吃了药|头疼|头痛|胃疼|肚子疼|拉肚子|腰疼|牙医|生病|病了|身体不舒服|有点不舒服|身体不适|疾病|慢性病|打疫苗|急诊|受伤|"
    r"扭伤)"
)
_HEALTH_EN = re.compile(
    r"(?<![A-Za-z])(?=[A-Za-z])(?:diagnosed|diagnosis (?:of|is|was)|prescri(?:bed|ption)|medications?|\bmeds\b|"
    r"antidepressants?|insulin|"
    r"chemo(?:therapy)?|radiation therapy|dialysis|pregnan(?:t|cy)|miscarriage|\bIVF\b|infertility|"
    r"(?:clinical |postpartum |my |his |her )depression|depressed|anxiety (?:disorder|attacks?)|bipolar|"
    r"schizophreni|\bADHD\b|diabet(?:es|ic)|hypertension|blood pressure|blood sugar|cancer|tumou?r|leukemia|"
    r"\bHIV\b|hepatitis|asthma|allerg(?:y|ic|ies)|surgery|hospitali[sz]ed|in (?:the )?hospital|sick leave|"
    r"sick day|medical leave|maternity leave|therapist|therapy session|psychiatrist|mental health|"
    r"panic attacks?|migraines?|(?:covid|corona)(?:-19)? positive|tested positive|\bfever\b|\bthe flu\b|"
    r"broken (?:arm|leg|wrist|ankle|bone)|(?:my |the )doctor (?:said|says|told)|see (?:a|my|the) doctor|"
    r"birth control|contraceptive|period cramps|\bsick\b|\billness\b|\binjur(?:y|ed|ies)\b|\bcovid\b|"
    r"(?:broke|broken|sprained|fractured|hurt) (?:my |his |her )?(?:back|knee|arm|leg|wrist|ankle|bone|finger|foot|"
    r"hand|rib|shoulder)|headache|stomach ?ache|nausea|vomit(?:ing)?|dentist|painkillers?|\bdisease\b|"
    r"\bdisorder\b|syndrome|\binfection\b|\bchronic\b|(?:back|chest|knee) pain|recovering from|"
    r"(?:my|his|her) (?:back|head|knee|tooth|stomach|throat|leg|arm|chest) (?:hurts|is killing)|"
    r"(?:have|has|got|caught) (?:a |the )?(?:cold|flu|fever|covid|cough|sore throat)|blood test)",
    re.IGNORECASE,
)
# Technical and figurative uses of the same words: "bug 诊断为内存泄漏", "build fever", "对这个不感冒".
_HEALTH_TECH = re.compile(
    r"内存|泄漏|bug|日志|服务器|系统|代码|接口|性能|故障|网络|数据库|配置|集群|线上|页面|版本|重构|模块|架构|"
    r"制度|政策|规定|流程|模板|文档|"
    r"(?i:\b(?:server|service|build|deploy|pipeline|cluster|database|db|query|api|code|crash|outage|incident|"
    r"latency|network|test suite|ci|market|economic|recession|dataset|patients? table|model|app|policy|policies|"
    r"document|template|handbook|feature|dashboard|data|malware|virus|tracker)\b)"
)
_AMBIGUOUS_HEALTH = re.compile(
    r"^(?:诊断|确诊|手术|药物|康复|过敏|病假|产假|(?i:diagnos|surgery|allerg|sick|illness|tumou?r|cancer|"
    r"in (?:the )?hospital|medication|maternity|medical leave|covid|disease|disorder|infection|chronic|疾病))"
)


def _health(text: str) -> Iterator[Finding]:
    matches = _HEALTH_ZH.finditer(text) if _HAS_CJK.search(text) else iter(())
    for m in (*matches, *_HEALTH_EN.finditer(text)):
        if _AMBIGUOUS_HEALTH.match(m.group()):
            window = text[max(0, m.start() - 20):m.end() + 20]
            if _HEALTH_TECH.search(window):
                continue
        yield Finding("health", m.start(), m.end(), 0.8)


# --- salary ----------------------------------------------------------------------------------------------------
_SALARY_WORD = (
    r"工资|薪水|薪资|薪酬|月薪|年薪|底薪|时薪|日薪|税前|税后|到手|实发|奖金|年终奖|绩效奖|提成|期权|涨薪|加薪|降薪|"
    r"收入|月入|年入|(?<![挣赚])[挣赚]|存款|房贷|车贷|贷款|负债|欠款|"
    r"(?i:salary|savings|mortgage|\bdebts?\b|salaries|paycheck|pay ?stub|"
    r"pay raise|pay cut|\bpaid\b|\bwages?\b|compensation|\bincome\b|"
    r"\bbonus\b|\bearn(?:s|ed|ing)?\b|\bmake\b|\bmakes\b|\bmaking\b|base pay|\bTC\b|\braise\b|\bRSUs?\b|\boffer\b)"
)
# Amounts are rare in text and cheap to find: find them first, then look for a salary word around each one.
_AMOUNT = re.compile(
    r"(?=[\d$¥￥€£一二两三四五六七八九十几])(?:"
    r"[$¥￥€£]\s?\d[\d,]*(?:\.\d+)?\s*(?:[kKwWmM](?![A-Za-z])|万|千)?"
    r"|\d[\d,]*(?:\.\d+)?\s*(?:[kKwW](?![A-Za-z])|万|千|元|块|美元|美金|刀|个w|(?i:dollars?|usd|rmb|cny|bucks))"
    r"|\d{4,7}(?!\d)"
    r"|[一二两三四五六七八九十几]+[百千万][一二三四五六七八九]?(?:块|元)?)"
)
_BARE_AMOUNT_AFTER = re.compile(
    r"(?:[薪资水奖前后手发入挣赚]|(?i:\bearn(?:s|ed)?|\bmake|\bmakes|\bpaid|salary(?: is)?|income(?: is)?))"
    r"\s*[:：是为]?\s*$"
)
_PER_PERIOD = re.compile(r"(?i)^\s*(?:a|per|/|每|一个)\s*(?:month|year|hour|week|月|年)")
_SALARY_WORD_RE = re.compile(_SALARY_WORD)
_SENTENCE_END = re.compile(r"[\n。.!?！？]")
_SALARY_MINE = re.compile(
    r"(?=[我俺本他她mMhHiI])(?:我的?|俺的?|本人|他的|她的|(?i:\bmy\b|\bhis\b|\bher\b|\bI'm paid\b|"
    r"\bI get paid\b))\s{0,2}"
    r"(?:税前|税后|每月|月|年|基本)?\s{0,2}"
    r"(?:工资|薪水|薪资|薪酬|月薪|年薪|底薪|奖金|年终奖|收入|(?i:salary|pay(?:check| stub)?\b|wages?|income|bonus|"
    r"compensation|base pay|raise))"
)
# Amounts in market talk: "the average salary for this role is 30k" tells nothing about a person.
_SALARY_MARKET = re.compile(
    r"平均|行业|市场|中位|范围|区间|招聘|岗位|职位|预算|标准|水平|报价|公司|营收|营业|流水|销售|客户|用户|项目|"
    r"(?i:average|median|market|range|benchmark|"
    r"industry|typical|posting|job ad|budget|band|levels\.fyi|per seat|pricing|price|revenue|sales|arr|mrr|"
    r"cost|invoice|customers?|users?|company|startup)"
)


def _salaries(text: str) -> Iterator[Finding]:
    for m in _SALARY_MINE.finditer(text):
        yield Finding("salary", m.start(), m.end(), 0.8)
    for m in _AMOUNT.finditer(text):
        before = _SENTENCE_END.split(text[max(0, m.start() - 16):m.start()])[-1]
        after = _SENTENCE_END.split(text[m.end():m.end() + 10])[0]
        if m.group().isdigit() and not (_BARE_AMOUNT_AFTER.search(before) or _PER_PERIOD.match(after)):
            continue  # a bare number is an amount only right after 月薪/工资/税前 ...
        if not (_SALARY_WORD_RE.search(before) or _SALARY_WORD_RE.search(after)):
            continue
        window = text[max(0, m.start() - 16):m.end() + 8]
        if _SALARY_MARKET.search(window) and not _SALARY_MINE.search(window):
            continue
        yield Finding("salary", m.start() - len(before), m.end() + len(after), 0.85)


# --- dates of birth --------------------------------------------------------------------------------------------
_MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DATE = (
    rf"(?:\d{{4}}\s*[年/\-.]\s*\d{{1,2}}\s*[月/\-.]\s*\d{{1,2}}\s*[日号]?|\d{{1,2}}\s*月\s*\d{{1,2}}\s*[日号]"
    rf"|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS}(?:,?\s+\d{{4}})?|(?:19|20)\d{{2}}\s*年)"
)
_BIRTH = re.compile(
    rf"(?:生日|出生日期|出生于|出生在|出生年月|生于|(?i:date of birth|\bDOB\b|born (?:on|in)|birthday|birth date))"
    rf"[^\n。.!?]{{0,8}}?({_DATE})"
)


def _births(text: str) -> Iterator[Finding]:
    for m in _BIRTH.finditer(text):
        yield Finding("birth_date", m.start(1), m.end(1), 0.85)


# --- confidential notes ----------------------------------------------------------------------------------------
_CONFIDENTIAL = re.compile(
    r"(?=[请要需务注先帮保机绝不别私只sSkKdDbBoOcC])(?:请保密|要保密|需保密|务必保密|注意保密|先保密|帮我保密|"
    r"保密[，,。！!]|机密[：:]|绝密|不要外传|别外传|"
    r"别告诉(?:别人|其他人|任何人)|不要告诉(?:别人|其他人|任何人)|私下(?:说|告诉)|只跟你说|"
    r"(?i:strictly confidential|confidential[:：]|keep (?:this|it) (?:confidential|private|between us|secret)|"
    r"do not share (?:this|it)|don't (?:share|tell) (?:this|anyone)|between you and me|off the record))"
)


def _confidential(text: str) -> Iterator[Finding]:
    for m in _CONFIDENTIAL.finditer(text):
        yield Finding("confidential", m.start(), m.end(), 0.75)


TOPIC_DETECTORS = (_addresses, _births, _confidential)
# Keywords that also fill textbooks and exam papers: the detector runs these only where the learned classifier
# already leans towards private.
GATED_TOPIC_DETECTORS = (_health, _salaries)
