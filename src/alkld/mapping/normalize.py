"""Normalise clinical term strings so that a mention and an ontology label compare equal.

Pure functions, no data files: the lexical matcher (:mod:`alkld.mapping.lexical`) applies the
same :func:`normalize` to every label it indexes and to every query, so both sides meet in one
canonical form. The steps, in order:

1. Unicode NFKC, Greek letters spelled out (``α`` → ``alpha``), case folding;
2. marker status: ``ALK+``, ``ALK-positive`` and ``ALK positive`` all become ``alk positive``
   (``CD30-`` becomes ``cd30 negative``);
3. punctuation, hyphens and runs of spaces become one space; a letter run followed by a
   number run is joined (``Ki-67`` → ``ki67``, ``S-100`` and ``S100`` → ``s100``);
4. per word: plurals to singular (``metastases`` → ``metastasis``), British to American
   spelling (``tumour`` → ``tumor``, ``tachypnoea`` → ``tachypnea``, ``oesophagus`` →
   ``esophagus``, ``haematological`` → ``hematological``).

Abbreviations (:data:`ABBREVIATIONS`) are not expanded by :func:`normalize` — ``ALK`` is a
gene symbol as well as an abbreviation — but by :func:`expand_abbreviations`, which the matcher
tries as a further, lower-scored, variant. :func:`variants` splits a mention as curated from a
paper (``"juvenile xanthogranuloma (JXG) / juvenile xanthogranulomas"``) into the strings worth
looking up.

>>> normalize("Tumours")
'tumor'
>>> normalize("ALK+ ALCL") == normalize("ALK-positive ALCL") == normalize("alk positive ALCL")
True
>>> normalize("TGF-β receptor")
'tgf beta receptor'
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "ABBREVIATIONS",
    "ADJECTIVES",
    "GENERIC_HEADS",
    "STOPWORDS",
    "bag_key",
    "core_key",
    "expand",
    "expand_abbreviations",
    "normalize",
    "ranked_variants",
    "singular",
    "to_american",
    "variants",
]

#: Greek letters (lower and upper case) and their spelled-out names.
GREEK: dict[str, str] = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta",
    "η": "eta", "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu",
    "ξ": "xi", "ο": "omicron", "π": "pi", "ρ": "rho", "σ": "sigma", "ς": "sigma", "τ": "tau",
    "υ": "upsilon", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega",
}
GREEK.update({k.upper(): v for k, v in list(GREEK.items()) if k != "ς"})

#: Abbreviations of case reports of ALK-positive tumours → the name an ontology labels.
#: Keys are in :func:`normalize` form (so ``2-CDA`` is ``2 cda`` and ``6-MP`` is ``6 mp``).
ABBREVIATIONS: dict[str, str] = {
    "2 cda": "cladribine",
    "6 mp": "mercaptopurine",
    "alcl": "anaplastic large cell lymphoma",
    "aml": "acute myeloid leukemia",
    "all": "acute lymphoblastic leukemia",
    "ara c": "cytarabine",
    "atra": "tretinoin",
    "cns": "central nervous system",
    "csf": "cerebrospinal fluid",
    "dlbcl": "diffuse large b cell lymphoma",
    "ebv": "epstein barr virus",
    "fdg": "fluorodeoxyglucose",
    "hlh": "hemophagocytic lymphohistiocytosis",
    "imt": "inflammatory myofibroblastic tumor",
    "jxg": "juvenile xanthogranuloma",
    "lch": "langerhans cell histiocytosis",
    "ldh": "lactate dehydrogenase",
    "mtx": "methotrexate",
    "nsclc": "non small cell lung carcinoma",
    "pet": "positron emission tomography",
    "rdd": "rosai dorfman disease",
    "sma": "smooth muscle actin",
    "ecd": "erdheim chester disease",
}

#: Anatomical adjectives → the noun an UBERON label uses ("dermal lesion" → "dermis lesion").
ADJECTIVES: dict[str, str] = {
    "abdominal": "abdomen", "adrenal": "adrenal gland", "axillary": "axilla",
    "bronchial": "bronchus", "cardiac": "heart", "cerebellar": "cerebellum",
    "cerebral": "cerebrum", "colonic": "colon", "costal": "rib", "cutaneous": "skin",
    "dermal": "dermis", "esophageal": "esophagus", "femoral": "femur",
    "frontal": "frontal lobe", "gastric": "stomach", "gingival": "gingiva", "gluteal": "buttock",
    "hepatic": "liver", "humeral": "humerus", "intestinal": "intestine", "labial": "lip",
    "laryngeal": "larynx", "lingual": "tongue", "mammary": "breast", "mediastinal": "mediastinum",
    "meningeal": "meninx", "mesenteric": "mesentery", "muscular": "muscle", "nasal": "nose",
    "nodal": "lymph node", "occipital": "occipital lobe", "ocular": "eye", "oral": "mouth",
    "orbital": "orbit", "osseous": "bone", "ovarian": "ovary", "pancreatic": "pancreas",
    "parietal": "parietal lobe", "pelvic": "pelvis", "peritoneal": "peritoneum",
    "pleural": "pleura", "prostatic": "prostate gland", "pulmonary": "lung", "renal": "kidney",
    "retroperitoneal": "retroperitoneum", "sacral": "sacrum", "splenic": "spleen",
    "sternal": "sternum", "temporal": "temporal lobe", "testicular": "testis",
    "thoracic": "thorax", "tibial": "tibia", "tracheal": "trachea", "uterine": "uterus",
    "vertebral": "vertebra", "vesical": "urinary bladder",
}

#: Head words that add nothing to a protein's name ("CD34 Antigen", "S100 Proteins").
GENERIC_HEADS = frozenset({"antigen", "protein", "complex", "gene", "product", "family",
                           "molecule"})

#: Words dropped from the order-free :func:`bag_key` ("carcinoma of the lung" = "lung carcinoma").
STOPWORDS = frozenset({"a", "an", "the", "of", "in", "on", "at", "to", "for", "by", "nos"})

_IRREGULAR_PLURALS: dict[str, str] = {
    "metastases": "metastasis", "vertebrae": "vertebra", "foramina": "foramen",
    "indices": "index", "appendices": "appendix", "matrices": "matrix", "cortices": "cortex",
    "apices": "apex", "nuclei": "nucleus", "bronchi": "bronchus", "thrombi": "thrombus",
    "emboli": "embolus", "fungi": "fungus", "bacteria": "bacterium", "criteria": "criterion",
    "lymphomata": "lymphoma", "carcinomata": "carcinoma", "sarcomata": "sarcoma",
    "ganglia": "ganglion", "diagnoses": "diagnosis", "mitoses": "mitosis", "testes": "testis",
    "media": "media", "data": "data", "feet": "foot", "teeth": "tooth", "children": "child",
    "women": "woman", "men": "man", "phalanges": "phalanx", "meninges": "meninx",
    "lamellae": "lamella", "sequelae": "sequela", "bullae": "bulla", "fistulae": "fistula",
    "ampullae": "ampulla", "plicae": "plica", "papillae": "papilla", "axillae": "axilla",
    "tracheae": "trachea", "cristae": "crista", "maculae": "macula", "striae": "stria",
}
#: Words ending in -s that are singular.
_SINGULAR_S = frozenset({
    "analysis", "axis", "basis", "bias", "bronchus", "canvas", "chorus", "corpus", "cutis",
    "diabetes", "gas", "herpes", "humerus", "iris", "lens", "mucus", "pancreas", "pelvis",
    "plus", "pubis", "radius", "rabies", "series", "species", "status", "sinus", "thorax",
    "thymus", "tonsillitis", "uterus", "virus", "ascites", "caries", "scabies", "mellitus",
    "fetus", "anus", "glomus", "hiatus", "meatus", "nodulus", "plexus", "tetanus", "torus",
    "bronchiectasis", "syphilis", "lupus", "tinnitus", "stenosis", "alias", "gps", "news",
    "hemochromatosis", "mycosis", "ileus", "pylorus", "fundus", "vas", "biceps", "triceps",
    "quadriceps", "this", "its", "has", "was", "is", "yes", "less", "versus", "vs",
})

# British → American spelling: exceptions first, then ordered (pattern, replacement) rules.
_SPELLING_WORDS: dict[str, str] = {
    "centre": "center", "fibre": "fiber", "litre": "liter", "metre": "meter",
    "millilitre": "milliliter", "calibre": "caliber", "grey": "gray", "programme": "program",
    "aluminium": "aluminum", "sulphate": "sulfate", "sulphur": "sulfur", "coeliac": "celiac",
    "foetus": "fetus", "foetal": "fetal", "manoeuvre": "maneuver", "tumour": "tumor",
    "tumours": "tumors", "behaviour": "behavior", "colour": "color", "odour": "odor",
    "haemangioma": "hemangioma", "anaemia": "anemia",
}
_OUR_KEEP = frozenset({"four", "hour", "your", "pour", "flour", "tour", "sour", "contour",
                       "devour", "detour", "our", "scour", "dour", "amour", "velour", "troubadour"})
_SPELLING_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r) for p, r in (
        (r"oesophag", "esophag"), (r"^oedem", "edem"), (r"^oestr", "estr"),
        (r"(?<=[a-z])oea$", "ea"),          # tachypnoea, dyspnoea, diarrhoea, gonorrhoea
        (r"haem", "hem"), (r"aemi", "emi"),  # haematology, leukaemia, ischaemia, septicaemia
        (r"paed", "ped"), (r"gynaec", "gynec"), (r"anaesth", "anesth"), (r"faec", "fec"),
        (r"^caec", "cec"),
        (r"isation$", "ization"),
        (r"(?<=[a-z]{3})our$", "or"),        # tumour, colour (short words kept: _OUR_KEEP)
    ))


def to_american(word: str) -> str:
    """American spelling of one lower-case word (unchanged when already American).

    >>> [to_american(w) for w in ("tumour", "tachypnoea", "oesophagus", "haematological",
    ...                           "leukaemia", "paediatric", "four", "colour")]
    ['tumor', 'tachypnea', 'esophagus', 'hematological', 'leukemia', 'pediatric', 'four', 'color']
    """
    if word in _SPELLING_WORDS:
        return _SPELLING_WORDS[word]
    if word in _OUR_KEEP:
        return word
    for pattern, replacement in _SPELLING_RULES:
        word = pattern.sub(replacement, word)
    return word


def singular(word: str) -> str:
    """The singular of one lower-case word; words that only look plural are kept.

    >>> words = ("lymphomas", "metastases", "vertebrae", "bodies", "masses", "pelvis", "virus",
    ...          "imts", "lungs", "series", "cd3")
    >>> [singular(w) for w in words]  # doctest: +NORMALIZE_WHITESPACE
    ['lymphoma', 'metastasis', 'vertebra', 'body', 'mass', 'pelvis', 'virus', 'imt', 'lung',
     'series', 'cd3']
    """
    if word in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[word]
    if len(word) <= 3 or word in _SINGULAR_S or not word.isalpha():
        return word
    if word.endswith("ae"):                          # sequelae, vertebrae, axillae
        return word[:-1]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "zzes")):
        return word[:-2]
    if word.endswith("oses") and len(word) > 5:     # fibroses → fibrosis, stenoses → stenosis
        return word[:-2] + "is"
    if word.endswith(("ss", "us", "is", "os", "ys")):
        return word
    if word.endswith("s"):
        return word[:-1]
    return word


_STATUS = re.compile(r"(?<=[0-9a-z])\s*(\+|\(\+\)|-positive\b|-negative\b|\(-\)|-(?=\s|$|[,;/)]))")
_POSSESSIVE = re.compile(r"['\u2019]s\b")
_PUNCT = re.compile(r"[^0-9a-z]+")
_LETTER_DIGIT = re.compile(r"\b([a-z]+) (\d+[a-z]?)\b")


def _status(m: re.Match[str]) -> str:
    negative = "neg" in m.group(1) or m.group(1) in ("-", "(-)")
    return " negative " if negative else " positive "


def normalize(text: str) -> str:
    """The canonical form of a term: see the module docstring for the steps.

    >>> normalize("Inflammatory myofibroblastic tumours")
    'inflammatory myofibroblastic tumor'
    >>> normalize("Ki-67") == normalize("Ki 67") == normalize("KI67")
    True
    >>> normalize("S-100") == normalize("S100")
    True
    >>> normalize("CD30-negative") == normalize("CD30-") == normalize("CD30 (-)")
    True
    >>> normalize("haematological disorders")
    'hematological disorder'
    >>> normalize("Lymphoma, Large-Cell, Anaplastic")
    'lymphoma large cell anaplastic'
    >>> normalize("IL-1β"), normalize("Hodgkin's lymphoma")
    ('il1 beta', 'hodgkin lymphoma')
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.replace("\u2010", "-").replace("\u2011", "-").replace("\u2013", "-")
    text = _POSSESSIVE.sub("", text)
    text = _STATUS.sub(_status, text)
    text = "".join(f" {GREEK[c]} " if c in GREEK else c for c in text)
    text = _PUNCT.sub(" ", text).strip()
    text = _LETTER_DIGIT.sub(r"\1\2", text)
    return " ".join(to_american(singular(w)) for w in text.split())


def bag_key(text: str) -> str:
    """An order-free key: the normalised words, stop words removed, sorted.

    Makes MeSH's inverted headings meet natural word order.

    >>> bag_key("Lymphoma, Large-Cell, Anaplastic") == bag_key("anaplastic large cell lymphoma")
    True
    >>> bag_key("carcinoma of the lung")
    'carcinoma lung'
    """
    words = sorted(w for w in normalize(text).split() if w not in STOPWORDS)
    return " ".join(words)


def core_key(text: str) -> str:
    """:func:`bag_key` without generic head words (:data:`GENERIC_HEADS`); empty if none left.

    >>> core_key("Antigens, CD34") == core_key("CD34") == core_key("CD34 protein")
    True
    >>> core_key("Protein")
    ''
    """
    return " ".join(w for w in bag_key(text).split() if w not in GENERIC_HEADS)


def expand(text: str) -> str:
    """:func:`expand_abbreviations`, then anatomical adjectives made nouns (:data:`ADJECTIVES`).

    >>> expand("dermal"), expand("CNS lymphoma"), expand("meningeal")
    ('dermis', 'central nervous system lymphoma', 'meninx')
    """
    return " ".join(ADJECTIVES.get(w, w) for w in expand_abbreviations(text).split())


def expand_abbreviations(text: str) -> str:
    """The normalised ``text``, every known abbreviation spelled out (:data:`ABBREVIATIONS`).

    >>> expand_abbreviations("ALK+ ALCL")
    'alk positive anaplastic large cell lymphoma'
    >>> expand_abbreviations("IMTs")
    'inflammatory myofibroblastic tumor'
    >>> expand_abbreviations("2-CDA"), expand_abbreviations("6-MP")
    ('cladribine', 'mercaptopurine')
    >>> expand_abbreviations("fever")
    'fever'
    """
    words = normalize(text).split()
    out: list[str] = []
    i = 0
    while i < len(words):
        pair = " ".join(words[i:i + 2])
        if i + 1 < len(words) and pair in ABBREVIATIONS:
            out.append(ABBREVIATIONS[pair])
            i += 2
        else:
            out.append(ABBREVIATIONS.get(words[i], words[i]))
            i += 1
    return " ".join(out)


_PAREN = re.compile(r"\(([^()]*)\)")
_BRACKET = re.compile(r"\[[^\]]*\]")
_SLASHED = re.compile(r"^([A-Za-z]+)/([A-Za-z]+)$")
#: Words that qualify a mention without changing what it names ("CCND1 amplification").
_QUALIFIERS = frozenset({
    "amplification", "amplified", "index", "gene", "protein", "expression", "fusion",
    "rearrangement", "rearranged", "mutation", "mutated", "staining", "stain", "keyword",
    "title", "lesion", "lesions", "involvement", "infiltration", "mass", "masses", "primary",
    "metastatic", "right", "left", "bilateral", "multiple", "rare", "aggressive", "pediatric",
    "paediatric", "only", "reference", "marker",
})


def _split_top(text: str) -> list[str]:
    """Split at " / " outside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    i = 0
    while i < len(text):
        c = text[i]
        depth += (c == "(") - (c == ")")
        if depth == 0 and text.startswith(" / ", i):
            parts.append("".join(current))
            current = []
            i += 3
            continue
        current.append(c)
        i += 1
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def _distribute(part: str) -> list[str]:
    """``mediastinal/abdominal lymphadenopathy`` → one string per alternative word."""
    words = part.split()
    for i, w in enumerate(words):
        m = _SLASHED.match(w)
        if m:
            return [" ".join([*words[:i], alt, *words[i + 1:]]) for alt in m.groups()]
    return []


def variants(mention: str) -> list[str]:
    """The strings worth looking up for one curated mention, most literal first.

    A mention may list alternatives (``/``), add an abbreviation or a remark in parentheses,
    or carry a qualifier that names no concept of its own (``amplification``, ``index``,
    ``mid-``). The mention comes first, then each alternative, each with its parentheses
    dropped but their words kept, each without its parenthesised part, each parenthesised
    part, and each of these without its qualifier words. No duplicates.

    >>> variants("cerebrospinal fluid (CSF)")
    ['cerebrospinal fluid (CSF)', 'cerebrospinal fluid CSF', 'cerebrospinal fluid', 'CSF']
    >>> variants("cerebellar / cerebellum")
    ['cerebellar / cerebellum', 'cerebellar', 'cerebellum']
    >>> variants("mediastinal/abdominal lymphadenopathy")[1:]
    ['mediastinal lymphadenopathy', 'abdominal lymphadenopathy']
    >>> variants("CCND1 amplification")
    ['CCND1 amplification', 'CCND1']
    >>> variants("6-mercaptupurine [sic]")
    ['6-mercaptupurine [sic]', '6-mercaptupurine']
    >>> variants("calcium (15.9 mg/dL)")
    ['calcium (15.9 mg/dL)', 'calcium 15.9 mg/dL', 'calcium', '15.9 mg/dL']
    """
    return [text for text, _ in ranked_variants(mention)]


def ranked_variants(mention: str) -> list[tuple[str, int]]:
    """:func:`variants` with how far each is from the mention.

    0 the mention itself, 1 an alternative or the mention without its parentheses, 2 a
    parenthesised part, 3 a string without its qualifier words.

    >>> ranked_variants("Ki-67 index (MIB-1)")  # doctest: +NORMALIZE_WHITESPACE
    [('Ki-67 index (MIB-1)', 0), ('Ki-67 index MIB-1', 1), ('Ki-67 index', 1), ('MIB-1', 2),
     ('Ki-67 (MIB-1)', 3), ('Ki-67 MIB-1', 3), ('Ki-67', 3)]
    """
    out: dict[str, int] = {}

    def add(s: str, rank: int) -> None:
        s = " ".join(s.split()).strip(" ,;:-")
        if s and s not in out:
            out[s] = rank

    add(mention, 0)
    cleaned = _BRACKET.sub(" ", mention)
    add(cleaned, 0)
    parts = _split_top(cleaned)
    for part in parts:
        add(part, 1)
        for alt in _distribute(part):
            add(alt, 1)
    for part in parts:
        if _PAREN.search(part):
            add(part.replace("(", " ").replace(")", " "), 1)
    for part in parts:
        add(_PAREN.sub(" ", part), 1)
    for part in parts:
        for piece in _PAREN.findall(part):
            for sub in re.split(r"[;,]", piece):
                add(sub, 2)
    for s in list(out):
        words = [w[4:] if w.casefold().startswith("mid-") else w for w in s.split()]
        kept = [w for w in words if w.casefold().strip("()") not in _QUALIFIERS]
        if kept and kept != s.split():
            add(" ".join(kept), 3)
    return list(out.items())
