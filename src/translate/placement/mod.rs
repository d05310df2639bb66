//! ECS task placement → Kubernetes scheduling (ecs-reference §3; design.md "Placement").
//!
//! - [`cql`]: the cluster query language parser (`memberOf` expressions) into an [`ast::Expr`];
//! - [`attributes`]: ECS instance attributes → node labels;
//! - [`compile`]: expressions and `distinctInstance` → node affinity and pod (anti-)affinity;
//! - [`strategy`]: `placementStrategy` → topology spread constraints and a scheduler profile.

pub mod ast;
pub mod attributes;
pub mod compile;
pub mod cql;
pub mod strategy;

#[cfg(test)]
mod law_tests;
