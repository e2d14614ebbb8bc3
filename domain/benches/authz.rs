//! Benchmark of the authorization decision and of the index rebuild.
//!
//! 100k role assignments over 10k principals at subscription, resource-group, registry and
//! repository scopes, plus one principal holding 10k repository-scoped assignments. Each
//! decision is timed alone (the clock read, ~20 ns here, is included), and p50/p99 are read
//! from the sorted timings. Run with `cargo bench -p berth-domain --bench authz`.

use berth_domain::authorization::{
    AccessKind, AuthorizationIndex, PrincipalType, RoleAssignment, Scope, built_in_roles,
};
use std::hint::black_box;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap_or(0)
    }
}

const SUB: &str = "/subscriptions/6d951973-ab00-47fe-9831-74ce4de9ec6d";
const ACTIONS: [(&str, AccessKind); 5] = [
    (
        "Microsoft.ContainerRegistry/registries/pull/read",
        AccessKind::Control,
    ),
    (
        "Microsoft.ContainerRegistry/registries/push/write",
        AccessKind::Control,
    ),
    (
        "Microsoft.ContainerRegistry/registries/read",
        AccessKind::Control,
    ),
    (
        "Microsoft.Authorization/roleAssignments/write",
        AccessKind::Control,
    ),
    (
        "Microsoft.ContainerRegistry/registries/trustedCollections/write",
        AccessKind::Data,
    ),
];

fn scope_of(rng: &mut Rng) -> Scope {
    let rg = rng.below(50);
    let reg = rng.below(10);
    let text = match rng.below(10) {
        0 => SUB.to_owned(),
        1 | 2 => format!("{SUB}/resourceGroups/rg{rg}"),
        3..=6 => format!(
            "{SUB}/resourceGroups/rg{rg}/providers/Microsoft.ContainerRegistry/registries/reg{rg}x{reg}"
        ),
        _ => format!(
            "{SUB}/resourceGroups/rg{rg}/providers/Microsoft.ContainerRegistry/registries/reg{rg}x{reg}/repositories/team{}/app{}",
            rng.below(20),
            rng.below(50)
        ),
    };
    Scope::parse(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn percentiles(mut nanos: Vec<u64>) -> (f64, f64, f64) {
    nanos.sort_unstable();
    let at = |q: f64| nanos[((nanos.len() as f64 - 1.0) * q) as usize] as f64 / 1000.0;
    (at(0.5), at(0.99), at(1.0))
}

fn decide(
    index: &AuthorizationIndex,
    principals: &[Uuid],
    scopes: &[Scope],
    rng: &mut Rng,
    n: usize,
) -> (Vec<u64>, usize) {
    let mut timings = Vec::with_capacity(n);
    let mut allowed = 0;
    for _ in 0..n {
        let principal = [principals[rng.below(principals.len())]];
        let (action, kind) = ACTIONS[rng.below(ACTIONS.len())];
        let scope = &scopes[rng.below(scopes.len())];
        let start = Instant::now();
        let ok = black_box(index.is_allowed(black_box(&principal), action, kind, scope));
        timings.push(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
        allowed += usize::from(ok);
    }
    (timings, allowed)
}

fn main() {
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    let target = 103_000; // ~100k remain once duplicates are dropped
    let roles = built_in_roles();
    let role_ids: Vec<Uuid> = roles.iter().map(|r| r.id).collect();
    let principals: Vec<Uuid> = (0..10_000).map(|_| Uuid::new_v4()).collect();
    let template = RoleAssignment {
        name: Uuid::nil(),
        scope: Scope::root(),
        role_definition_id: Uuid::nil(),
        role_definition_ref: String::new(),
        principal_id: Uuid::nil(),
        principal_type: PrincipalType::User,
        description: None,
        condition: None,
        condition_version: None,
        created_by: None,
        created_on: time::OffsetDateTime::UNIX_EPOCH,
    };
    let heavy = Uuid::new_v4();
    let mut assignments: Vec<RoleAssignment> = (0..target)
        .map(|i| RoleAssignment {
            name: Uuid::new_v4(),
            scope: scope_of(&mut rng),
            role_definition_id: role_ids[rng.below(role_ids.len())],
            principal_id: principals[i % principals.len()],
            ..template.clone()
        })
        .collect();
    let heavy_scopes: Vec<Scope> = (0..10_000)
        .map(|i| {
            Scope::parse(&format!(
                "{SUB}/resourceGroups/rg{}/providers/Microsoft.ContainerRegistry/registries/reg{}x0/repositories/heavy/app{i}",
                i % 50,
                i % 50
            ))
            .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    assignments.extend(heavy_scopes.iter().map(|scope| RoleAssignment {
        name: Uuid::new_v4(),
        scope: scope.clone(),
        role_definition_id: role_ids[6],
        principal_id: heavy,
        ..template.clone()
    }));

    // ARM refuses a duplicate (principal, scope, role): keep each triple once.
    let mut seen = std::collections::HashSet::new();
    assignments.retain(|a| {
        seen.insert((
            a.principal_id,
            a.scope.key().to_owned(),
            a.role_definition_id,
        ))
    });

    let mut builds = Vec::new();
    let mut index = AuthorizationIndex::default();
    for _ in 0..5 {
        let start = Instant::now();
        index = AuthorizationIndex::build(roles.clone(), &assignments);
        builds.push(start.elapsed());
    }
    builds.sort();
    assert_eq!(index.assignment_count(), assignments.len());

    let scopes: Vec<Scope> = (0..4096).map(|_| scope_of(&mut rng)).collect();
    let decisions = 1_000_000;
    let _ = decide(&index, &principals, &scopes, &mut rng, 100_000); // warm-up
    let (typical, allowed) = decide(&index, &principals, &scopes, &mut rng, decisions);
    let (heavy_timings, heavy_allowed) =
        decide(&index, &[heavy], &heavy_scopes, &mut rng, decisions);
    let (t50, t99, tmax) = percentiles(typical);
    let (h50, h99, hmax) = percentiles(heavy_timings);
    let median_build: Duration = builds[builds.len() / 2];
    println!(
        "authorization decision, {} assignments over {} principals (+1 holding 10k):",
        assignments.len(),
        principals.len() + 1
    );
    println!(
        "  typical principal: p50 {t50:.3} us, p99 {t99:.3} us, max {tmax:.1} us ({:.0}% allowed)",
        allowed as f64 * 100.0 / decisions as f64
    );
    println!(
        "  heavy principal:   p50 {h50:.3} us, p99 {h99:.3} us, max {hmax:.1} us ({:.0}% allowed)",
        heavy_allowed as f64 * 100.0 / decisions as f64
    );
    println!(
        "  index rebuild: median {:.1} ms of 5 (min {:.1} ms)",
        median_build.as_secs_f64() * 1000.0,
        builds[0].as_secs_f64() * 1000.0
    );
}
