//! References to task definitions: `family`, `family:revision` or a task definition ARN.

use std::fmt;

/// A parsed reference to a task definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDefinitionRef {
    /// The family.
    pub family: String,
    /// The revision, when pinned; `None` means the latest ACTIVE revision.
    pub revision: Option<i64>,
}

impl TaskDefinitionRef {
    /// Parses `family`, `family:N` or `arn:aws:ecs:<region>:<account>:task-definition/family:N`.
    ///
    /// # Errors
    /// A message naming what is wrong with the reference.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let body = if s.starts_with("arn:") {
            let (_, resource) = s.split_once(":task-definition/").ok_or_else(|| {
                format!("{s:?} is an ARN but not a task definition ARN (…:task-definition/family:revision)")
            })?;
            resource
        } else {
            s
        };
        let (family, revision) = match body.rsplit_once(':') {
            Some((family, rev)) => {
                let rev: i64 = rev
                    .parse()
                    .ok()
                    .filter(|r| *r > 0)
                    .ok_or_else(|| format!("{s:?}: the revision after ':' must be a positive integer"))?;
                (family, Some(rev))
            }
            None => (body, None),
        };
        if family.is_empty()
            || !family
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "{s:?}: a task definition family is 1-255 letters, digits, '-' or '_'"
            ));
        }
        Ok(Self {
            family: family.to_owned(),
            revision,
        })
    }
}

impl fmt::Display for TaskDefinitionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.revision {
            Some(r) => write!(f, "{}:{r}", self.family),
            None => f.write_str(&self.family),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        let r = |s: &str| TaskDefinitionRef::parse(s);
        assert_eq!(
            r("web"),
            Ok(TaskDefinitionRef {
                family: "web".into(),
                revision: None
            })
        );
        assert_eq!(
            r("web:7"),
            Ok(TaskDefinitionRef {
                family: "web".into(),
                revision: Some(7)
            })
        );
        assert_eq!(
            r("arn:aws:ecs:eu-west-1:111122223333:task-definition/orders_api:12"),
            Ok(TaskDefinitionRef {
                family: "orders_api".into(),
                revision: Some(12)
            })
        );
        assert_eq!(r("web:7").map(|x| x.to_string()), Ok("web:7".to_owned()));
    }

    #[test]
    fn rejects_bad_references_with_a_reason() {
        assert!(
            TaskDefinitionRef::parse("web:latest")
                .expect_err("rev")
                .contains("positive integer")
        );
        assert!(TaskDefinitionRef::parse("web:0").is_err());
        assert!(
            TaskDefinitionRef::parse("arn:aws:ecs:x:1:service/a")
                .expect_err("arn")
                .contains("task definition ARN")
        );
        assert!(TaskDefinitionRef::parse("we b").is_err());
        assert!(TaskDefinitionRef::parse("").is_err());
    }
}
