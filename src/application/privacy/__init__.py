"""The data subject's rights under Ley 1581 de 2012 (habeas data): erasure, export, correction,
and the retention that erases on its own (`subjects.Privacy`)."""
