// OpenMPI's C interface (pkg-config ompi-c). Its predefined handles are macros over the
// addresses of globals, which Swift cannot import: these functions hand them over.
#include <mpi.h>

static inline MPI_Comm rft_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype rft_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype rft_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype rft_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Errhandler rft_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
static inline int rft_mpi_max_error_string(void) { return MPI_MAX_ERROR_STRING; }
