/* Imports a function no host provides: instantiation must fail naming it. */
__attribute__((import_module("env"), import_name("mvm_no_such_function"))) int no_such_function(int);

int main(void)
{
	return no_such_function(1);
}
