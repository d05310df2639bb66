//! Fuzzes `ecs-bridge import`: any text, read as the JSON the AWS CLI writes (or, when its length
//! is odd, from a `.yaml` file, as ecschedule's configurations), imports or fails with
//! diagnostics, and never panics; every object imported prints as YAML that reads back as the
//! same object (what `import` prints is what `kubectl apply` sends and the operator reads).
//! Seeds: the shared corpus (`../shared/corpus/ecs`); dictionary: `ecs.dict` (the ECS model's
//! field names, written by `hack/fuzz_dict.py`).
#![no_main]

use std::path::Path;

use ecs_bridge::import::{ImportOptions, Imported, import_text};
use libfuzzer_sys::fuzz_target;
use serde::{Serialize, de::DeserializeOwned};

/// `printed` (the YAML of `object`) reads back as `object`.
fn reads_back<T: Serialize + DeserializeOwned>(printed: &str, object: &T) {
    let back: T = serde_yaml_ng::from_str(printed).unwrap_or_else(|e| panic!("{printed}\n{e}"));
    assert_eq!(
        serde_json::to_value(&back).expect("json"),
        serde_json::to_value(object).expect("json"),
        "{printed}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // (By length, so that every seed file is read both ways as it mutates.)
    let path = if data.len() % 2 == 1 { "fuzz.yaml" } else { "fuzz.json" };
    let result = import_text(Path::new(path), text, &ImportOptions::default());
    for object in &result.objects {
        let printed = object.to_yaml().expect("an imported object prints");
        match object {
            Imported::TaskDefinition(o) => reads_back(&printed, o.as_ref()),
            Imported::Service(o) => reads_back(&printed, o.as_ref()),
            Imported::CapacityProvider(o) => reads_back(&printed, o.as_ref()),
            Imported::Namespace(o) => reads_back(&printed, o.as_ref()),
            Imported::Task(o) => reads_back(&printed, o.as_ref()),
            Imported::ScheduledTask(o) => reads_back(&printed, o.as_ref()),
            Imported::RuleTargets(_) => {}
        }
    }
});
