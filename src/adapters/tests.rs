//! The registry: names, parsing and serde round-trips, labels, parameter counts.

use super::*;

#[test]
fn names_are_the_serde_and_cli_names_of_today() {
    let names: Vec<&str> = Method::ALL.iter().map(|m| m.name()).collect();
    assert_eq!(
        names,
        [
            "curlora", "lora", "full", "frozen", "pissa", "milora", "o-lora"
        ]
    );
    assert_eq!(Method::names(), names);
}

#[test]
fn every_name_round_trips_through_parse_serde_and_clap() {
    use clap::ValueEnum;
    for &m in Method::ALL {
        assert_eq!(Method::from_name(m.name()), Some(m));
        assert_eq!(m.name().parse::<Method>(), Ok(m));
        assert_eq!(m.to_string(), m.name());
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, format!("\"{}\"", m.name()));
        assert_eq!(serde_json::from_str::<Method>(&json).unwrap(), m);
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Spec {
            method: Method,
            methods: Vec<Method>,
        }
        let toml_text = toml::to_string(&Spec {
            method: m,
            methods: vec![m],
        })
        .unwrap();
        assert!(
            toml_text.contains(&format!("method = \"{}\"", m.name())),
            "{toml_text}"
        );
        let back: Spec = toml::from_str(&toml_text).unwrap();
        assert_eq!((back.method, back.methods), (m, vec![m]));
        assert_eq!(<Method as ValueEnum>::from_str(m.name(), false), Ok(m));
        let pv = m.to_possible_value().unwrap();
        assert_eq!(pv.get_name(), m.name());
    }
    assert_eq!(Method::value_variants(), Method::ALL);
}

#[test]
fn unknown_names_are_refused_with_the_list() {
    assert_eq!(Method::from_name("CURLoRA"), None);
    assert_eq!(Method::from_name(""), None);
    let e = "dora".parse::<Method>().unwrap_err();
    assert!(
        e.contains("curlora, lora, full, frozen, pissa, milora, o-lora"),
        "{e}"
    );
    let e = serde_json::from_str::<Method>("\"dora\"")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "unknown variant `dora`, expected one of `curlora`, `lora`, `full`, `frozen`, `pissa`, \
             `milora`, `o-lora`"
        ),
        "{e}"
    );
}

#[test]
fn labels_help_and_run_labels() {
    let labels: Vec<&str> = Method::ALL.iter().map(|m| m.label()).collect();
    assert_eq!(
        labels,
        [
            "CURLoRA",
            "LoRA",
            "full fine-tune",
            "frozen",
            "PiSSA",
            "MiLoRA",
            "O-LoRA"
        ]
    );
    // What clap's derive made of the old doc comments (first line, final period removed).
    assert_eq!(Method::CurLora.help(), "`W + α·C·U·R`, only `U` trained");
    assert_eq!(Method::Frozen.help(), "Nothing trained (the base model)");
    assert_eq!(Method::CurLora.run_label(8), "curlora-8");
    assert_eq!(Method::Lora.run_label(16), "lora-16");
    assert_eq!(Method::Full.run_label(0), "full");
    assert_eq!(Method::Frozen.run_label(4), "frozen");
    let base: Vec<bool> = Method::ALL.iter().map(|m| m.trains_base()).collect();
    assert_eq!(base, [false, false, true, false, false, false, false]);
    let ranked: Vec<bool> = Method::ALL.iter().map(|m| m.uses_rank()).collect();
    assert_eq!(ranked, [true, true, false, false, true, true, true]);
    let reads: Vec<Reads> = Method::ALL.iter().map(|m| m.reads()).collect();
    use Reads::{Norms, Nothing, Whole};
    assert_eq!(
        reads,
        [Norms, Nothing, Nothing, Nothing, Whole, Whole, Nothing]
    );
}

#[test]
fn parameter_counts_by_hand_for_a_small_shape() {
    // A [6, 10] matrix at rank 3.
    let shape = [6, 10];
    assert_eq!(Method::CurLora.trainable_params(3, shape, true), 9); // 3²
    assert_eq!(Method::Lora.trainable_params(3, shape, true), 48); // 3·(6 + 10)
    assert_eq!(Method::Full.trainable_params(3, shape, true), 70); // 6·10 + 10
    assert_eq!(Method::Full.trainable_params(3, shape, false), 60); // no bias
    assert_eq!(Method::Frozen.trainable_params(3, shape, true), 0);
    assert_eq!(Method::Pissa.trainable_params(3, shape, true), 48); // as LoRA
    assert_eq!(Method::Milora.trainable_params(3, shape, true), 48);
    assert_eq!(Method::OLora.trainable_params(3, shape, true), 48); // per task
    assert_eq!(trainable_params_for(Method::Full, 3, shape), 70);
    assert_eq!(trainable_params_for(Method::Lora, 3, shape), 48);
}
