//! Task sizes: ECS's task-level `cpu` and `memory` in every form ECS accepts, and the Fargate
//! table of valid cpu/memory pairs (ecs-reference §1.3).

use crate::api::NumberOrString;

/// The forms task `cpu` may take, for error messages.
pub(super) const CPU_FORMS: &str =
    "write CPU units (\"1024\" or 1024) or vCPUs (\"1 vCPU\", \"0.25 vcpu\"); 1024 units = 1 vCPU";
/// The forms task `memory` may take, for error messages.
pub(super) const MEMORY_FORMS: &str =
    "write MiB (\"2048\" or 2048) or GB (\"2 GB\", \"2GB\", \"0.5 gb\"); 1 GB = 1024 MiB";

/// The task cpu range the ECS model accepts, in CPU units (0.125 to 192 vCPU).
pub(super) const TASK_CPU_RANGE: std::ops::RangeInclusive<i64> = 128..=196_608;

/// Task cpu values Fargate accepts, in CPU units.
pub(super) const FARGATE_CPU: [i64; 7] = [256, 512, 1024, 2048, 4096, 8192, 16384];

/// Task cpu in CPU units, from `"1024"`, `1024`, `"1 vCPU"` or `"0.25 vcpu"` (case and spaces
/// as ECS allows).
///
/// # Errors
/// A sentence saying what is wrong and which forms are accepted.
pub(super) fn parse_cpu(v: &NumberOrString) -> Result<i64, String> {
    let units = parse_scaled(v, "vcpu", 1024).map_err(|e| format!("{e} is not a task cpu; {CPU_FORMS}"))?;
    if !TASK_CPU_RANGE.contains(&units) {
        return Err(format!(
            "{units} CPU units is out of range; ECS accepts {} to {} units (0.125 to 192 vCPU)",
            TASK_CPU_RANGE.start(),
            TASK_CPU_RANGE.end()
        ));
    }
    Ok(units)
}

/// Task memory in MiB, from `"2048"`, `2048`, `"2 GB"`, `"2GB"` or `"0.5 gb"`.
///
/// # Errors
/// A sentence saying what is wrong and which forms are accepted.
pub(super) fn parse_memory(v: &NumberOrString) -> Result<i64, String> {
    let mib = parse_scaled(v, "gb", 1024).map_err(|e| format!("{e} is not a task memory; {MEMORY_FORMS}"))?;
    if mib <= 0 || mib > i64::from(i32::MAX) {
        return Err(format!(
            "{mib} MiB is out of range; give a positive amount up to {} MiB",
            i32::MAX
        ));
    }
    Ok(mib)
}

/// A plain integer, or a decimal followed by `suffix` (any case, optional spaces) multiplied by
/// `scale`; the result must be a whole number. The error is the value as written, quoted.
fn parse_scaled(v: &NumberOrString, suffix: &str, scale: i64) -> Result<i64, String> {
    let s = match v {
        NumberOrString::Number(n) => return Ok(*n),
        NumberOrString::String(s) => s,
    };
    let quoted = format!("{s:?}");
    let t = s.trim();
    if let Ok(n) = t.parse::<i64>() {
        return Ok(n);
    }
    let lower = t.to_ascii_lowercase();
    let number = lower
        .strip_suffix(suffix)
        .map(str::trim_end)
        .ok_or_else(|| quoted.clone())?;
    decimal_times(number, scale).ok_or(quoted)
}

/// `number` (digits with at most one `.`) × `scale`, when that is a whole number.
fn decimal_times(number: &str, scale: i64) -> Option<i64> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        || int.len() + frac.len() > 15
    {
        return None;
    }
    let digits: i128 = format!("{int}{frac}").parse().ok()?;
    let denominator = 10_i128.pow(u32::try_from(frac.len()).ok()?);
    let scaled = digits * i128::from(scale);
    (scaled % denominator == 0)
        .then(|| scaled / denominator)
        .and_then(|v| i64::try_from(v).ok())
}

/// The memory values (MiB) Fargate accepts with `cpu` units, or `None` when Fargate does not
/// offer that cpu.
pub(super) fn fargate_memory(cpu: i64) -> Option<Vec<i64>> {
    let (low, high, step) = match cpu {
        256 => return Some(vec![512, 1024, 2048]),
        512 => (1024, 4096, 1024),
        1024 => (2048, 8192, 1024),
        2048 => (4096, 16384, 1024),
        4096 => (8192, 30720, 1024),
        8192 => (16384, 61440, 4096),
        16384 => (32768, 122_880, 8192),
        _ => return None,
    };
    Some((low..=high).step_by(step).collect())
}

/// Which field of a Fargate task size is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FargateError {
    /// Task cpu is not a Fargate size.
    Cpu(String),
    /// Task memory does not go with the task cpu.
    Memory(String),
}

/// Checks that `cpu` units and `memory` MiB are a Fargate task size.
///
/// # Errors
/// Naming the valid cpu values, or the valid memory values for the given cpu.
pub(super) fn check_fargate(cpu: i64, memory: i64) -> Result<(), FargateError> {
    let list = |v: &[i64]| v.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    let Some(valid) = fargate_memory(cpu) else {
        return Err(FargateError::Cpu(format!(
            "{cpu} CPU units is not a Fargate task size; with requiresCompatibilities FARGATE, task cpu must be one of {} units",
            list(&FARGATE_CPU)
        )));
    };
    if valid.contains(&memory) {
        Ok(())
    } else {
        Err(FargateError::Memory(format!(
            "{memory} MiB does not go with {cpu} CPU units (spec.cpu) on Fargate; with requiresCompatibilities FARGATE, {cpu} units take one of {} MiB",
            list(&valid)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> NumberOrString {
        NumberOrString::String(v.to_owned())
    }

    #[test]
    fn reads_every_cpu_form() {
        for (written, units) in [
            (NumberOrString::Number(1024), 1024),
            (s("1024"), 1024),
            (s(" 256 "), 256),
            (s("1 vCPU"), 1024),
            (s("1 vcpu"), 1024),
            (s("1vCPU"), 1024),
            (s("0.25 vcpu"), 256),
            (s(".5 VCPU"), 512),
            (s("0.125 vCPU"), 128),
            (s("16 vCPU"), 16384),
            (s("192 vCPU"), 196_608),
        ] {
            assert_eq!(parse_cpu(&written), Ok(units), "{written}");
        }
    }

    #[test]
    fn reads_every_memory_form() {
        for (written, mib) in [
            (NumberOrString::Number(2048), 2048),
            (s("3072"), 3072),
            (s("2 GB"), 2048),
            (s("2GB"), 2048),
            (s("2 gb"), 2048),
            (s("0.5 GB"), 512),
            (s("30 GB"), 30720),
        ] {
            assert_eq!(parse_memory(&written), Ok(mib), "{written}");
        }
    }

    #[test]
    fn bad_cpu_values_say_which_forms_are_accepted() {
        for bad in ["1 core", "one vCPU", "1.5.0 vCPU", "vCPU", "-1 vCPU", "1 GB", ""] {
            let err = parse_cpu(&s(bad)).expect_err(bad);
            assert!(
                err.starts_with(&format!("{bad:?} is not a task cpu; write CPU units")),
                "{err}"
            );
            assert!(err.contains("\"0.25 vcpu\""), "{err}");
        }
        let err = parse_cpu(&s("0.3 vCPU")).expect_err("307.2 units");
        assert!(err.starts_with("\"0.3 vCPU\" is not a task cpu"), "{err}");
        for (bad, units) in [
            (NumberOrString::Number(64), 64),
            (s("0"), 0),
            (s("-512"), -512),
            (s("256 vCPU"), 262_144),
        ] {
            let err = parse_cpu(&bad).expect_err("out of range");
            assert_eq!(
                err,
                format!(
                    "{units} CPU units is out of range; ECS accepts 128 to 196608 units (0.125 to 192 vCPU)"
                )
            );
        }
    }

    #[test]
    fn bad_memory_values_say_which_forms_are_accepted() {
        for bad in ["2 GiB", "2 MB", "2 TB", "lots", "2,048", "0.0001 GB"] {
            let err = parse_memory(&s(bad)).expect_err(bad);
            assert_eq!(
                err,
                format!(
                    "{bad:?} is not a task memory; write MiB (\"2048\" or 2048) or GB (\"2 GB\", \"2GB\", \"0.5 gb\"); 1 GB = 1024 MiB"
                )
            );
        }
        for bad in [NumberOrString::Number(0), s("-1"), s("0 GB")] {
            let err = parse_memory(&bad).expect_err("not positive");
            assert!(err.contains("is out of range; give a positive amount"), "{err}");
        }
    }

    /// ecs-reference §1.3, written out independently of `fargate_memory`: (cpu, first, last,
    /// step) — 256 units allow 512, 1024 and 2048.
    const TABLE: [(i64, i64, i64, i64); 6] = [
        (512, 1024, 4096, 1024),
        (1024, 2048, 8192, 1024),
        (2048, 4096, 16384, 1024),
        (4096, 8192, 30720, 1024),
        (8192, 16384, 61440, 4096),
        (16384, 32768, 122_880, 8192),
    ];

    fn documented(cpu: i64, memory: i64) -> bool {
        if cpu == 256 {
            return [512, 1024, 2048].contains(&memory);
        }
        TABLE.iter().any(|&(c, first, last, step)| {
            c == cpu && (first..=last).contains(&memory) && (memory - first) % step == 0
        })
    }

    #[test]
    fn fargate_accepts_exactly_the_documented_pairs() {
        let mut accepted = 0;
        for cpu in (128..=20480).step_by(128) {
            for memory in (256..=131_072).step_by(256) {
                let ok = check_fargate(cpu, memory).is_ok();
                assert_eq!(ok, documented(cpu, memory), "cpu {cpu}, memory {memory}");
                accepted += usize::from(ok);
            }
        }
        // 3 + 4 + 7 + 13 + 23 + 12 + 12 pairs.
        assert_eq!(accepted, 74);
    }

    #[test]
    fn fargate_errors_list_the_valid_values() {
        assert_eq!(
            check_fargate(1024, 1024),
            Err(FargateError::Memory(
                "1024 MiB does not go with 1024 CPU units (spec.cpu) on Fargate; with requiresCompatibilities FARGATE, 1024 units take one of 2048, 3072, 4096, 5120, 6144, 7168, 8192 MiB".to_owned()
            ))
        );
        assert_eq!(
            check_fargate(768, 2048),
            Err(FargateError::Cpu(
                "768 CPU units is not a Fargate task size; with requiresCompatibilities FARGATE, task cpu must be one of 256, 512, 1024, 2048, 4096, 8192, 16384 units".to_owned()
            ))
        );
        let Err(FargateError::Memory(m)) = check_fargate(8192, 18432) else {
            panic!("18432 MiB is not a step of 4096 from 16384");
        };
        assert!(m.contains("take one of 16384, 20480, 24576, "), "{m}");
        assert!(m.ends_with(", 57344, 61440 MiB"), "{m}");
    }
}
