//! The `sum` filter, linear when it joins lists.
//!
//! minijinja's own `sum` adds each item to the running total, and a list
//! total (`sum(start=[])`) is copied again every few items as it grows:
//! 50,000 one-item lists took 40 seconds, and none of that copying counts
//! against the template's fuel ([`super::bounds::FUEL`]). This one joins
//! lists in one pass and stops past [`MAX_ITEMS`] items, visited or joined,
//! with minijinja's out-of-fuel error. A total that is not a list (numbers,
//! the default) is minijinja's `sum`, as are its errors.

use minijinja::value::{Kwargs, Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

/// Items a list `sum` may visit or join: the template's fuel.
pub const MAX_ITEMS: usize = super::bounds::FUEL as usize;

pub fn sum(
    state: &State,
    values: Value,
    attribute: Option<&str>,
    start: Option<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let attribute = match attribute {
        Some(a) => Some(a.to_string()),
        None => kwargs.get::<Option<String>>("attribute")?,
    };
    let start = match start {
        Some(s) => Some(s),
        None => kwargs.get::<Option<Value>>("start")?,
    };
    kwargs.assert_all_used()?;
    let start = match start {
        Some(s) if s.kind() == ValueKind::Seq => s,
        start => {
            let none = Kwargs::from_iter([] as [(&str, Value); 0]);
            return minijinja::filters::sum(state, values, attribute.as_deref(), start, none);
        }
    };
    let mut out: Vec<Value> = start.try_iter()?.collect();
    let mut visited = 0usize;
    for item in values.try_iter()? {
        visited += 1;
        let item = match &attribute {
            Some(path) => at_path(&item, path),
            None => item,
        };
        if item.is_undefined() {
            continue;
        }
        if !matches!(item.kind(), ValueKind::Seq | ValueKind::Iterable) {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("can only add lists to a list, got {}", item.kind()),
            ));
        }
        for v in item.try_iter()? {
            out.push(v);
            if out.len() + visited > MAX_ITEMS {
                return Err(Error::new(ErrorKind::OutOfFuel, "sum joins too many items"));
            }
        }
        if visited > MAX_ITEMS {
            return Err(Error::new(ErrorKind::OutOfFuel, "sum visits too many items"));
        }
    }
    Ok(Value::from(out))
}

/// The item's attribute at a dotted path (`a.0.b`), as minijinja's own
/// `sum` reads it: undefined where the path leads nowhere.
fn at_path(item: &Value, path: &str) -> Value {
    let mut v = item.clone();
    for part in path.split('.') {
        let next = match part.parse::<usize>() {
            Ok(i) => v.get_item_by_index(i),
            Err(_) => v.get_attr(part),
        };
        match next {
            Ok(n) if !n.is_undefined() => v = n,
            _ => return Value::UNDEFINED,
        }
    }
    v
}

#[cfg(test)]
mod tests {
    fn render(t: &str) -> Result<String, minijinja::Error> {
        let mut env = minijinja::Environment::new();
        env.add_filter("sum", super::sum);
        env.render_str(t, ())
    }

    #[test]
    fn lists_are_joined_in_order_after_the_start() {
        assert_eq!(render("{{ [[1, 2], [3]] | sum(start=[0]) }}").unwrap(), "[0, 1, 2, 3]");
        assert_eq!(render("{{ [{'a': [1]}, {'b': 2}, {'a': [2]}] | sum('a', []) }}").unwrap(), "[1, 2]");
        assert_eq!(render("{{ [{'a': [{'b': [3]}]}, {'a': []}] | sum('a.0.b', []) }}").unwrap(), "[3]");
        assert_eq!(render("{{ [[1], []] | sum(attribute=none, start=[]) | length }}").unwrap(), "1");
    }

    #[test]
    fn anything_else_is_minijinjas_sum() {
        assert_eq!(render("{{ [1, 2, 3] | sum }}").unwrap(), "6");
        assert_eq!(render("{{ [1, 2] | sum(start=10) }}").unwrap(), "13");
        assert_eq!(render("{{ [{'p': 2}, {'p': 3}] | sum(attribute='p') }}").unwrap(), "5");
        assert!(render("{{ [[1]] | sum }}").is_err(), "a list is not a number");
        assert!(render("{{ [1] | sum(start=[]) }}").is_err(), "a number is not a list");
        assert!(render("{{ [1] | sum(nope=1) }}").is_err(), "an unknown keyword");
    }

    /// 50,000 one-item lists took minijinja's `sum` 40 seconds; the bound
    /// stops a join past it at the first item over.
    #[test]
    fn a_join_past_the_bound_runs_out_of_fuel() {
        assert_eq!(render("{{ ([[1]] * 50000) | sum(start=[]) | length }}").unwrap(), "50000");
        let n = super::MAX_ITEMS / 50_000 + 1;
        let t = format!("{{{{ ([range(50000) | list] * {n}) | sum(start=[]) | length }}}}");
        assert_eq!(render(&t).unwrap_err().kind(), minijinja::ErrorKind::OutOfFuel);
    }
}
