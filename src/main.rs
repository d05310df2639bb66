//! The `ecs-bridge` command: the operator and its offline tools.
fn main() {
    print!("{}", ecs_bridge::crdgen::multi_document().expect("crds"));
}
