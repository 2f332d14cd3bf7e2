// Placeholder: the HTTP implementation lands in the next commits.
#include "go/http.hpp"
