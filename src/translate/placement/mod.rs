//! ECS task placement → Kubernetes scheduling (ecs-reference §3; design.md "Placement").
//!
//! - [`cql`]: the cluster query language parser (`memberOf` expressions) into an [`ast::Expr`].

pub mod ast;
pub mod cql;
